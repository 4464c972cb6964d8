"""The networks and what they are made of: sizes (config), pix2pixHD networks, compositing, the face residual, checkpoints."""
