"""Video generator and discriminator: MoCoGAN's content and motion decoded by
`Conv3DTranspose` blocks (or VGAN's plain 3-D deconvolution, or a sprite the motion moves),
judged by `Conv3D` blocks.

Clips are channels-last `[batch, frames, height, width, channels]` in [-1, 1]. Both
models are keras-hub style functional subclasses like the image family: the generator
takes `z` (one vector a clip, and `label`), the discriminator `video` (and `label`).
"""

import keras
from keras import layers

from kgan.errors import KganError
from kgan.layers import LeakyReLU, PlaceSprites
from kgan.models._heads import add_heads
from kgan.models.base import Discriminator, Generator
from kgan.models._shapes import check_member_head, check_num_classes, check_positive, num_doublings

__all__ = ["VideoGenerator", "VideoDiscriminator", "check_video_shape"]

ARCHITECTURES = ("mocogan", "vgan", "sprite")
MOTION = ("mocogan", "sprite")  # the architectures with a GRU over a motion part of `z`


def check_video_shape(video_shape, any_channels=False):
    """Validates `(frames, height, width, channels)` and returns it as a tuple of ints."""
    try:
        shape = tuple(int(s) for s in video_shape)
    except (TypeError, ValueError):
        raise KganError(f"video_shape must be (frames, height, width, channels), got {video_shape!r}") from None
    if len(shape) != 4 or min(shape) <= 0:
        raise KganError(f"video_shape must be four positive ints (frames, height, width, channels), got "
                        f"{video_shape!r}")
    if shape[3] not in (1, 3) and not any_channels:
        raise KganError(f"video_shape needs 1 or 3 channels, got {shape[3]}")
    return shape


def _halvings(n, limit):
    """How many times `n` halves evenly, at most `limit`."""
    steps = 0
    while steps < limit and n % 2 == 0 and n // 2 >= 1:
        n, steps = n // 2, steps + 1
    return steps


@keras.saving.register_keras_serializable(package="kgan")
class VideoGenerator(Generator, keras.Model):
    """One latent vector a clip -> `[frames, height, width, channels]` in [-1, 1].

    `"mocogan"` (Tulyakov et al., "MoCoGAN: Decomposing Motion and Content for Video
    Generation", CVPR 2018): `z` is split into content (the first `latent_dim -
    motion_dim` entries, one for the whole clip) and motion (the last `motion_dim`). A GRU
    of `motion_dim` units, started from the motion vector and fed it every frame, gives one
    motion code a frame (MoCoGAN starts its GRU from noise and feeds it fresh noise every
    frame; here `z` is the clip's only input, so the motion is a function of it, as the
    moving digits' motion is of their start). Each frame's code is the content joined to
    its motion code; a dense layer maps it to a seed map, and `Conv3DTranspose` blocks
    with stride (1, 2, 2) double the frames' sides while mixing `temporal_kernel`
    neighbouring frames (1 decodes every frame alone, as MoCoGAN's image generator does).

    `"vgan"` (Vondrick et al., "Generating Videos with Scene Dynamics", NeurIPS 2016, its
    single-stream network): `z` -> a dense seed volume -> `Conv3DTranspose` blocks that
    double time and space together.

    `"sprite"`: MoCoGAN's split and GRU, but the content is drawn once, as `sprites`
    sprites of `sprite_size` (ink in [0, 1], the same transposed convolutions over that one
    drawing), and each frame's motion code gives every sprite's position (`PlaceSprites`):
    the clip is its content moved, so a frame cannot change what it shows. Fit for objects moving on an empty
    background, as moving digits are; the others can change a clip's look over time.

    Args:
        video_shape: `(frames, height, width, channels)`, channels 1 or 3.
        latent_dim: size of `z`.
        num_classes: a label embedding joins the content (conditional), or None.
        architecture: `"mocogan"`, `"vgan"` or `"sprite"`.
        motion_dim: size of the motion part of `z` and of the GRU (mocogan, sprite).
        filters: filters of the last block; each earlier block doubles them.
        max_filters: cap on the filters of any block.
        temporal_kernel: frames each transposed convolution mixes (mocogan).
        batch_norm: BatchNorm after the seed and each block.
        embedding_dim: size of the label embedding (conditional only).
        sprites: sprites a clip (sprite), joined by their pixel-wise maximum.
        sprite_size: `(height, width)` of a sprite (sprite); default half the frame's.
        whole_pixels: draw sprites at whole pixels, sharp as rendered clips are (sprite;
            the gradient is the blended draw's, see `PlaceSprites`).

    Example:
        >>> g = VideoGenerator((16, 16, 16, 1), latent_dim=32)
        >>> g(keras.random.normal((2, 32))).shape
        TensorShape([2, 16, 16, 16, 1])
    """

    kind = "video"

    def __init__(
        self,
        video_shape,
        latent_dim=64,
        num_classes=None,
        architecture="mocogan",
        motion_dim=10,
        filters=16,
        max_filters=256,
        temporal_kernel=3,
        batch_norm=True,
        embedding_dim=16,
        sprites=1,
        sprite_size=None,
        whole_pixels=True,
        **kwargs,
    ):
        video_shape = check_video_shape(video_shape)
        latent_dim = check_positive("latent_dim", latent_dim)
        num_classes = check_num_classes(num_classes)
        if architecture not in ARCHITECTURES:
            raise KganError(f"architecture must be one of {', '.join(ARCHITECTURES)}, got {architecture!r}")
        motion_dim = check_positive("motion_dim", motion_dim)
        if architecture in MOTION and motion_dim >= latent_dim:
            raise KganError(f"motion_dim {motion_dim} leaves no content in a latent of {latent_dim}: lower motion_dim "
                            "or raise latent_dim")
        temporal_kernel = check_positive("temporal_kernel", temporal_kernel)
        sprites = check_positive("sprites", sprites)
        frames, height, width, channels = video_shape
        if sprite_size is not None:
            try:
                sprite_size = tuple(int(s) for s in sprite_size)
            except (TypeError, ValueError):
                raise KganError(f"sprite_size must be (height, width), got {sprite_size!r}") from None
            if len(sprite_size) != 2 or not (0 < sprite_size[0] <= height and 0 < sprite_size[1] <= width):
                raise KganError(f"sprite_size must be (height, width) within the frames' {height}x{width}, got "
                                f"{sprite_size!r}")
        sprite_side = sprite_size or (max(1, height // 2), max(1, width // 2))
        if architecture == "sprite":
            height, width = sprite_side  # the convolutions draw the sprites
        steps = num_doublings(height, width)
        seed_h, seed_w = height >> steps, width >> steps

        def block_filters(i):
            return min(filters * 2 ** (steps - i), max_filters)

        z = keras.Input((latent_dim,), name="z")
        inputs, content = z, z
        if architecture in MOTION:
            content = z[:, : latent_dim - motion_dim]
        if num_classes:
            label = keras.Input((), dtype="int32", name="label")
            embedded = layers.Embedding(num_classes, embedding_dim, name="label_embedding")(label)
            content = layers.Concatenate(name="content_and_label")([content, embedded])
            inputs = [z, label]
        if architecture in MOTION:
            motion = z[:, latent_dim - motion_dim :]
            repeated = layers.RepeatVector(frames, name="motion_inputs")(motion)
            # Unrolled: a fixed number of steps as plain ops, which ONNX converts without a loop.
            codes = layers.GRU(motion_dim, return_sequences=True, unroll=True, name="motion_gru")(
                repeated, initial_state=motion)
        if architecture == "mocogan":
            per_frame = layers.RepeatVector(frames, name="content_per_frame")(content)
            x = layers.Concatenate(name="frame_codes")([per_frame, codes])
            time_steps, seed_t = 0, frames
        elif architecture == "sprite":
            x, time_steps, seed_t = content, 0, 1
        else:
            x = content
            time_steps = _halvings(frames, steps)
            seed_t = frames >> time_steps
        x = layers.Dense(seed_h * seed_w * block_filters(0) * (1 if architecture in MOTION else seed_t),
                         use_bias=not batch_norm, name="project")(x)
        x = layers.Reshape((seed_t, seed_h, seed_w, block_filters(0)), name="seed_volume")(x)
        if batch_norm:
            x = layers.BatchNormalization(name="project_bn")(x)
        x = layers.Activation("relu", name="project_act")(x)
        for i in range(1, steps + 1):
            if architecture in MOTION:
                kernel, strides = (temporal_kernel if architecture == "mocogan" else 1, 4, 4), (1, 2, 2)
            else:
                kernel, strides = 4, (2 if i <= time_steps else 1, 2, 2)
            x = layers.Conv3DTranspose(block_filters(i), kernel, strides=strides, padding="same",
                                       use_bias=not batch_norm, name=f"up{i}")(x)
            if batch_norm:
                x = layers.BatchNormalization(name=f"up{i}_bn")(x)
            x = layers.Activation("relu", name=f"up{i}_act")(x)
        if architecture == "sprite":
            x = layers.Conv3D(channels * sprites, (1, 3, 3), padding="same", activation="sigmoid", dtype="float32",
                              name="sprite_ink")(x)
            x = layers.Reshape((*sprite_side, sprites, channels), name="sprite_split")(x)
            drawn = layers.Permute((3, 1, 2, 4), name="sprites")(x)
            where = layers.Dense(2 * sprites, activation="sigmoid", dtype="float32", name="sprite_positions")(codes)
            where = layers.Reshape((frames, sprites, 2), name="positions")(where)
            video = PlaceSprites((video_shape[1], video_shape[2]), whole_pixels, dtype="float32",
                                 name="video")(drawn, where)
        else:
            video = layers.Conv3D(channels, 3, padding="same", activation="tanh", dtype="float32", name="video")(x)
        super().__init__(inputs=inputs, outputs=video, **kwargs)

        self.video_shape = video_shape
        self.latent_dim = latent_dim
        self.num_classes = num_classes
        self.architecture = architecture
        self.motion_dim = motion_dim
        self.filters = filters
        self.max_filters = max_filters
        self.temporal_kernel = temporal_kernel
        self.batch_norm = batch_norm
        self.embedding_dim = embedding_dim
        self.sprites = sprites
        self.sprite_size = sprite_size
        self.whole_pixels = bool(whole_pixels)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "video_shape": self.video_shape,
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "architecture": self.architecture,
            "motion_dim": self.motion_dim,
            "filters": self.filters,
            "max_filters": self.max_filters,
            "temporal_kernel": self.temporal_kernel,
            "batch_norm": self.batch_norm,
            "embedding_dim": self.embedding_dim,
            "sprites": self.sprites,
            "sprite_size": self.sprite_size,
            "whole_pixels": self.whole_pixels,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="kgan")
class VideoDiscriminator(Discriminator, keras.Model):
    """`Conv3D` blocks with LeakyReLU -> flatten -> Dense: one logit a clip.

    MoCoGAN judges clips with a 3-D discriminator and single frames with a 2-D one. With
    `image_head`, a second branch judges every frame alone (convolutions over one frame,
    kernel (1, 4, 4)), and the logit is the clip's plus the mean of its frames' logits: the
    two judges share one loss.

    Args:
        video_shape: `(frames, height, width, channels)` (channels: any count, for packing).
        num_classes: projection discriminator over the clip's features (conditional), or None.
        filters: filters of the first block; each later block doubles them.
        max_filters: cap on the filters of any block.
        num_blocks: downsampling blocks; by default one per doubling of the frames' sides.
        downsampling: `"strided"` (kernel 4, stride 2 in time and space) or `"maxpool"`
            (kernel 3, then 2x2x2 MaxPooling3D).
        image_head: add the per-frame judge.
        frame_projection: with `image_head` and `num_classes`, the projection also covers
            the frames' features (their mean joins the clip's), so the per-frame judge
            weighs the label too.
        spectral_norm: wrap convolutions and dense layers in `SpectralNormalization`.
        dropout: dropout after each block.
        member_head: K adds MGAN's classifier of mixture members (see `DCGANDiscriminator`).

    Example:
        >>> d = VideoDiscriminator((16, 16, 16, 1), image_head=True)
        >>> d(keras.random.normal((2, 16, 16, 16, 1))).shape
        TensorShape([2, 1])
    """

    def __init__(
        self,
        video_shape,
        num_classes=None,
        filters=32,
        max_filters=256,
        num_blocks=None,
        downsampling="strided",
        image_head=False,
        spectral_norm=False,
        dropout=0.0,
        member_head=None,
        frame_projection=False,
        **kwargs,
    ):
        video_shape = check_video_shape(video_shape, any_channels=True)
        num_classes = check_num_classes(num_classes)
        if downsampling not in ("strided", "maxpool"):
            raise KganError(f"downsampling must be 'strided' or 'maxpool', got {downsampling!r}")
        frames, height, width, _ = video_shape
        blocks = num_blocks if num_blocks is not None else max(1, num_doublings(height, width))

        def wrap(layer):
            return layers.SpectralNormalization(layer, name=f"{layer.name}_sn") if spectral_norm else layer

        video = keras.Input(video_shape, name="video")
        x, t = video, frames
        for i in range(blocks):
            f = min(filters * 2**i, max_filters)
            time_stride = 2 if t % 2 == 0 and t > 1 else 1
            t //= time_stride
            if downsampling == "strided":
                x = wrap(layers.Conv3D(f, 4, strides=(time_stride, 2, 2), padding="same", name=f"down{i + 1}"))(x)
            else:
                x = wrap(layers.Conv3D(f, 3, padding="same", name=f"conv{i + 1}"))(x)
                x = layers.MaxPooling3D((time_stride, 2, 2), padding="same", name=f"pool{i + 1}")(x)
            x = LeakyReLU(0.2, name=f"down{i + 1}_act")(x)
            if dropout:
                x = layers.Dropout(dropout, name=f"down{i + 1}_dropout")(x)
        features = layers.Flatten(name="features")(x)
        logit = wrap(layers.Dense(1, dtype="float32", name="logit"))(features)
        if image_head:
            y = video
            for i in range(blocks):
                f = min(filters * 2**i, max_filters)
                y = wrap(layers.Conv3D(f, (1, 4, 4), strides=(1, 2, 2), padding="same", name=f"frame_down{i + 1}"))(y)
                y = LeakyReLU(0.2, name=f"frame_down{i + 1}_act")(y)
            side_h, side_w = y.shape[2], y.shape[3]
            y = layers.Reshape((frames, side_h * side_w * y.shape[4]), name="frame_features")(y)
            frame_logits = wrap(layers.Dense(1, dtype="float32", name="frame_logits"))(y)
            frame_logit = layers.GlobalAveragePooling1D(dtype="float32", name="frame_logit")(frame_logits)
            logit = layers.Add(dtype="float32", name="clip_and_frames")([logit, frame_logit])
            if frame_projection and num_classes:  # <e, mean of frames> = mean of the frames' projections
                mean_frame = layers.GlobalAveragePooling1D(name="mean_frame_features")(y)
                features = layers.Concatenate(name="clip_and_frame_features")([features, mean_frame])
        member_head = check_member_head(member_head)
        inputs, outputs = add_heads(video, logit, features, num_classes, member_head)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.video_shape = video_shape
        self.num_classes = num_classes
        self.filters = filters
        self.max_filters = max_filters
        self.num_blocks = num_blocks
        self.downsampling = downsampling
        self.image_head = image_head
        self.spectral_norm = spectral_norm
        self.dropout = dropout
        self.member_head = member_head
        self.frame_projection = bool(frame_projection)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "video_shape": self.video_shape,
            "num_classes": self.num_classes,
            "filters": self.filters,
            "max_filters": self.max_filters,
            "num_blocks": self.num_blocks,
            "downsampling": self.downsampling,
            "image_head": self.image_head,
            "spectral_norm": self.spectral_norm,
            "dropout": self.dropout,
            "member_head": self.member_head,
            "frame_projection": self.frame_projection,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
