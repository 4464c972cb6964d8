"""Real-time side: camera or file in, puppeteered target out."""
