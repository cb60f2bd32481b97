"""Shape arithmetic shared by the convolutional families."""

from kgan.errors import KganError


def num_doublings(height, width, min_size=4):
    """How many stride-2 steps lead from a small seed map to `height` x `width`.

    Halves both sides while they stay even and above `min_size`: 8 -> 1 (4x4 seed),
    28 -> 2 (7x7), 32 -> 3, 64 -> 4.
    """
    steps = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) // 2 >= min_size:
        height, width, steps = height // 2, width // 2, steps + 1
    return steps


def check_image_shape(image_shape, any_channels=False):
    """Validates `(height, width, channels)` and returns it as a tuple of ints.

    Generators make 1 or 3 channels; a discriminator may take any count
    (`any_channels`), e.g. 3 x 4 for PacGAN4 on colour images.
    """
    try:
        shape = tuple(int(s) for s in image_shape)
    except (TypeError, ValueError):
        raise KganError(f"image_shape must be (height, width, channels), got {image_shape!r}") from None
    if len(shape) != 3 or min(shape) <= 0:
        raise KganError(f"image_shape must be three positive ints (height, width, channels), got {image_shape!r}")
    if shape[2] not in (1, 3) and not any_channels:
        raise KganError(f"image_shape needs 1 or 3 channels, got {shape[2]}")
    return shape


def check_positive(name, value):
    if value is None or int(value) <= 0:
        raise KganError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_num_classes(num_classes):
    if num_classes is None:
        return None
    if int(num_classes) < 2:
        raise KganError(f"num_classes must be at least 2 (or None for an unconditional model), got {num_classes!r}")
    return int(num_classes)


def check_member_head(member_head):
    if member_head is None:
        return None
    if int(member_head) < 2:
        raise KganError(f"member_head must be the number of mixture members, at least 2, got {member_head!r}")
    return int(member_head)
