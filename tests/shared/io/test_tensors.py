"""shared/io/tensors.py: pictures <-> the tensors the networks take."""

from shared.io.tensors import image_to_tensor


def test_plate_to_tensor_range() -> None:
    import numpy as np

    plate = np.zeros((4, 6, 3), np.uint8)
    plate[..., 0] = 255
    tensor = image_to_tensor(plate)
    assert tensor.shape == (1, 3, 4, 6)
    assert float(tensor[0, 0].min()) == 1.0 and float(tensor[0, 1].max()) == -1.0
