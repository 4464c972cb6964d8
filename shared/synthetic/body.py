"""Who dances: the proportions and looks of a synthetic person, and the two built-in people.

The target is the person a model learns to draw; the source is a different build and outfit whose
motion drives the puppet, so normalisation and transfer are tested across real differences.
"""

from __future__ import annotations

from dataclasses import dataclass

Color = tuple[int, int, int]

@dataclass(frozen=True)
class BodyStyle:
    """Proportions and looks of one synthetic person.

    Lengths are fractions of the body height (rescaled by `standing_units`, so they need not sum
    to exactly 1); colours are RGB.
    """

    name: str
    height: float  # standing height (soles to top of head) as a fraction of the frame height
    center_x: float  # horizontal position of the pelvis as a fraction of the frame width
    floor_y: float  # y of the soles as a fraction of the frame height
    head_radius: float = 0.062  # half the head's width; the head is 1.2x taller than wide
    neck_length: float = 0.03
    torso_length: float = 0.29  # shoulder line to hip joints
    shoulder_width: float = 0.23
    hip_width: float = 0.14  # distance between the hip joints
    upper_arm: float = 0.17
    forearm: float = 0.15
    hand_length: float = 0.075
    thigh: float = 0.245
    shin: float = 0.235
    ankle_height: float = 0.055  # ankle above the sole
    foot_length: float = 0.12
    arm_width: float = 0.05  # upper arm thickness
    leg_width: float = 0.075  # thigh thickness at the hip
    skin: Color = (228, 178, 145)
    hair: Color = (60, 38, 24)
    shirt: Color = (200, 40, 45)
    shirt_stripe: Color = (245, 240, 230)
    trousers: Color = (40, 55, 105)
    shoes: Color = (25, 25, 28)

    @property
    def standing_units(self) -> float:
        """Soles to top of head, standing straight, in the units of the fields above."""
        legs = self.ankle_height + self.shin + self.thigh
        return legs + self.torso_length + self.neck_length + 2.4 * self.head_radius


TARGET_BODY = BodyStyle(name="target", height=0.78, center_x=0.5, floor_y=0.92)

SOURCE_BODY = BodyStyle(
    name="source",
    height=0.6,
    center_x=0.47,
    floor_y=0.8,
    head_radius=0.068,
    torso_length=0.31,
    shoulder_width=0.26,
    hip_width=0.17,
    upper_arm=0.16,
    forearm=0.14,
    thigh=0.22,
    shin=0.21,
    arm_width=0.06,
    leg_width=0.09,
    skin=(150, 98, 66),
    hair=(22, 18, 16),
    shirt=(30, 140, 90),
    shirt_stripe=(240, 200, 40),
    trousers=(38, 38, 46),
    shoes=(235, 235, 225),
)

BODIES: dict[str, BodyStyle] = {"target": TARGET_BODY, "source": SOURCE_BODY}
