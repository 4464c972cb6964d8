"""What the generator sees: the stick-figure label, the face box, and the exemplar warped onto the pose."""
