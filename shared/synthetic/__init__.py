"""The built-in synthetic dancer (tests, demo, `dance-train synth`): a data generator, outside the product's data flow; nothing else in shared/ imports it."""
