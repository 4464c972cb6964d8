"""Exemplar warping: real target texture, moved part by part onto the pose to render.

A small CPU generator trained for minutes cannot invent a person's clothes and face from a stick
figure; it blurs them. Following Siarohin et al. (Deformable GANs, CVPR 2018) and Balakrishnan et
al. (CVPR 2018), the generator is also shown a real training frame whose pose is close to the one
asked for, with each body part (torso, head, upper and lower limbs) moved onto the new pose by its
own affine map from the keypoints. The generator then corrects real texture instead of making it up.

An `ExemplarBank` (bank.py) holds up to a few hundred training frames (picked far apart in pose),
each with its person mask, a per-pixel part map (parts.py: which body part a pixel belongs to,
nearest bone inside the mask) and its pose. The conditioning the generator sees is 7 channels
(conditioner.py): the stick-figure label (3), the warped exemplar (3) and its mask (1), all in [0, 1].

Retrieval (retrieval.py) compares body joints relative to the mid-shoulder, in torso heights. Live
keeps the current exemplar until another is clearly closer (`ExemplarConditioner`), so texture does
not flicker between two near-equal frames; training draws among the nearest few, never from the
frames around the one being learnt (`ExemplarBank.choose`), so the generator learns to fix the
misfit of an exemplar that is near, not equal, as it will be for a new source pose.
"""

