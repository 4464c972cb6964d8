import torch

from shared.model.face_residual import add_face_residual, crop_faces


def _residual_of_crops(label_crop: torch.Tensor, image_crop: torch.Tensor) -> torch.Tensor:
    """A stand-in face generator whose residual depends on both crops (and can overflow the clamp)."""
    return label_crop * 2.0 - image_crop * 0.5


def test_the_residual_lands_inside_each_box_clamped_and_nowhere_else() -> None:
    torch.manual_seed(0)
    frames, labels = torch.rand(2, 3, 32, 40) * 2 - 1, torch.rand(2, 7, 32, 40)
    boxes = torch.tensor([[4, 6, 8], [30, 20, 8]])
    out = add_face_residual(frames, labels, boxes, _residual_of_crops)
    for i, (x0, y0, size) in enumerate(boxes.tolist()):
        crop = frames[i : i + 1, :, y0 : y0 + size, x0 : x0 + size]
        label_crop = labels[i : i + 1, :3, y0 : y0 + size, x0 : x0 + size]
        expected = (crop + _residual_of_crops(label_crop, crop)).clamp(-1, 1)
        assert torch.equal(crop_faces(out[i : i + 1], boxes[i : i + 1]), expected)
        outside = torch.ones(32, 40, dtype=torch.bool)
        outside[y0 : y0 + size, x0 : x0 + size] = False
        assert torch.equal(out[i][:, outside], frames[i][:, outside])


def test_frames_without_a_face_are_kept_and_the_others_refined_as_alone() -> None:
    torch.manual_seed(1)
    frames, labels = torch.rand(3, 3, 24, 24) * 2 - 1, torch.rand(3, 3, 24, 24)
    boxes = torch.tensor([[2, 3, 8], [0, 0, 0], [10, 12, 8]])
    out = add_face_residual(frames, labels, boxes, _residual_of_crops)
    assert torch.equal(out[1], frames[1])
    for i in (0, 2):
        alone = add_face_residual(frames[i : i + 1], labels[i : i + 1], boxes[i : i + 1], _residual_of_crops)
        assert torch.equal(out[i : i + 1], alone)
    assert add_face_residual(frames, labels, torch.zeros(3, 3, dtype=torch.int64), _residual_of_crops) is frames
