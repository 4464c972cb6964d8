"""Global pose normalization: the source's poses mapped onto the target's body size and floor (stats, upper body, calibration)."""
