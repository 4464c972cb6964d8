"""The channels of the images the generator is conditioned on, defined where labels are made.

The model layer builds its networks' input widths from these (shared/model/config.py), so the
label layer, which comes first in the data flow, owns them.
"""

IMAGE_NC = 3  # RGB: a stick-figure label, a frame
EXEMPLAR_NC = 4  # a warped exemplar beside the label: RGB + its mask (shared/label/exemplar/)
