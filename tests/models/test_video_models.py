import keras
import numpy as np
import pytest

from harness import assert_config_round_trip, assert_keras_round_trip
from kgan.errors import KganError
from kgan.models import VideoDiscriminator, VideoGenerator


@pytest.mark.parametrize("architecture", ["mocogan", "vgan", "sprite"])
@pytest.mark.parametrize("shape", [(16, 16, 16, 1), (6, 8, 8, 3), (5, 32, 32, 1)])
def test_generator_makes_clips_of_the_asked_shape_in_range(architecture, shape):
    keras.utils.set_random_seed(0)  # the weights: an unlucky draw can place a sprite where no motion shows
    generator = VideoGenerator(shape, latent_dim=12, architecture=architecture, motion_dim=4, filters=2)
    clips = keras.ops.convert_to_numpy(generator(np.random.default_rng(0).standard_normal((3, 12)) * 10))
    assert clips.shape == (3, *shape) and clips.dtype == np.float32
    assert clips.min() >= -1.0 and clips.max() <= 1.0
    assert np.abs(np.diff(clips, axis=1)).max() > 1e-4  # the frames are not one image repeated


def test_mocogan_content_is_shared_by_the_frames_and_motion_comes_from_the_gru():
    generator = VideoGenerator((6, 8, 8, 1), latent_dim=10, motion_dim=3, filters=2, temporal_kernel=1)
    codes = keras.Model(generator.inputs, generator.get_layer("frame_codes").output)
    z = np.random.default_rng(1).standard_normal((2, 10)).astype(np.float32)
    per_frame = keras.ops.convert_to_numpy(codes(z))  # [2, frames, content + motion]
    np.testing.assert_allclose(per_frame[:, :, :7], np.repeat(z[:, None, :7], 6, axis=1), atol=1e-6)
    assert np.abs(np.diff(per_frame[:, :, 7:], axis=1)).min() > 0  # the GRU's code moves every frame
    moved = z.copy()
    moved[:, 7:] += 1.0  # another motion: the content part of every frame's code stays
    other = keras.ops.convert_to_numpy(codes(moved))
    np.testing.assert_allclose(other[:, :, :7], per_frame[:, :, :7], atol=1e-6)
    assert np.abs(other[:, :, 7:] - per_frame[:, :, 7:]).min() > 0


def test_sprite_clips_move_one_content_that_the_motion_part_does_not_change():
    generator = VideoGenerator((6, 12, 10, 3), latent_dim=10, architecture="sprite", motion_dim=3, filters=2,
                               sprites=2, sprite_size=(4, 6))
    sprites = keras.Model(generator.inputs, generator.get_layer("sprites").output)
    z = np.random.default_rng(5).standard_normal((3, 10)).astype(np.float32) * 3
    moved = z.copy()
    moved[:, 7:] += 1.0  # the same content, another motion
    clips, other = (keras.ops.convert_to_numpy(generator(v)) for v in (z, moved))
    drawn = keras.ops.convert_to_numpy(sprites(z))
    assert drawn.shape == (3, 2, 4, 6, 3)
    np.testing.assert_allclose(drawn, keras.ops.convert_to_numpy(sprites(moved)), atol=1e-6)
    assert np.abs(clips - other).max() > 0.1  # the motion part moves the sprites
    assert np.abs(np.diff(clips, axis=1)).max() > 0.01  # and they move from frame to frame
    single = VideoGenerator((6, 12, 10, 1), latent_dim=10, architecture="sprite", motion_dim=3, filters=2)
    ink = (keras.ops.convert_to_numpy(single(z)) + 1) / 2
    np.testing.assert_allclose(ink.sum(axis=(2, 3, 4)), np.repeat(ink[:, :1].sum(axis=(2, 3, 4)), 6, axis=1),
                               rtol=1e-4)  # one sprite: every frame shows all of it


def test_image_head_adds_a_judge_that_ignores_the_frames_order():
    discriminator = VideoDiscriminator((4, 8, 8, 1), filters=2, image_head=True)
    clips = np.random.default_rng(2).uniform(-1, 1, (3, 4, 8, 8, 1)).astype(np.float32)
    shuffled = clips[:, ::-1]
    clip_logit = discriminator.get_layer("logit")
    kernel = clip_logit.kernel.numpy()
    assert np.abs(keras.ops.convert_to_numpy(discriminator(clips) - discriminator(shuffled))).max() > 1e-5
    clip_logit.kernel.assign(np.zeros_like(kernel))  # only the per-frame judge is left
    np.testing.assert_allclose(keras.ops.convert_to_numpy(discriminator(clips)),
                               keras.ops.convert_to_numpy(discriminator(shuffled)), atol=1e-5)


def test_frame_projection_lets_the_frame_judge_weigh_the_label():
    discriminator = VideoDiscriminator((4, 8, 8, 1), num_classes=3, filters=2, image_head=True, frame_projection=True)
    clip_width = discriminator.get_layer("features").output.shape[-1]
    embedding = discriminator.get_layer("label_projection")
    table = embedding.embeddings.numpy()
    assert table.shape[1] == clip_width + discriminator.get_layer("frame_features").output.shape[-1]
    table[:, :clip_width] = 0.0  # no clip term: what the label changes, it changes through the frames
    embedding.embeddings.assign(table)
    clips = np.random.default_rng(6).uniform(-1, 1, (3, 4, 8, 8, 1)).astype(np.float32)
    by_label = [keras.ops.convert_to_numpy(discriminator([clips, np.full(3, k, np.int32)])) for k in range(3)]
    assert np.abs(by_label[0] - by_label[1]).min() > 1e-4
    frames = keras.ops.convert_to_numpy(keras.Model(discriminator.inputs, discriminator.get_layer("frame_features")
                                                    .output)([clips, np.zeros(3, np.int32)]))
    expected = np.einsum("bf,btf->bt", table[np.zeros(3, int), clip_width:], frames).mean(axis=1)
    plain = VideoDiscriminator((4, 8, 8, 1), num_classes=3, filters=2, image_head=True)
    assert plain.get_layer("label_projection").embeddings.shape[1] == plain.get_layer("features").output.shape[-1]
    projection = keras.Model(discriminator.inputs, discriminator.get_layer("projection").output)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(projection([clips, np.zeros(3, np.int32)])).reshape(-1),
                               expected, rtol=1e-4, atol=1e-5)  # the mean of the frames' projections


@pytest.mark.parametrize("downsampling", ["strided", "maxpool"])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_discriminator_gives_one_logit_per_clip(downsampling, spectral_norm):
    discriminator = VideoDiscriminator((6, 16, 16, 2), filters=2, downsampling=downsampling,
                                       spectral_norm=spectral_norm)
    assert discriminator(np.zeros((5, 6, 16, 16, 2), np.float32), training=True).shape == (5, 1)
    if downsampling == "maxpool":
        assert any(isinstance(layer, keras.layers.MaxPooling3D) for layer in discriminator.layers)


@pytest.mark.parametrize("num_classes", [None, 4])
def test_serialization_and_keras_round_trip(tmp_path, num_classes):
    g_arguments = dict(video_shape=(4, 8, 8, 3), latent_dim=9, num_classes=num_classes, architecture="vgan",
                       motion_dim=3, filters=3, max_filters=8, temporal_kernel=2, batch_norm=False, embedding_dim=5,
                       sprites=2, sprite_size=(4, 4), whole_pixels=False)
    d_arguments = dict(video_shape=(4, 8, 8, 3), num_classes=num_classes, filters=3, max_filters=8, num_blocks=1,
                       downsampling="maxpool", image_head=True, spectral_norm=True, dropout=0.25, member_head=3,
                       frame_projection=True)
    generator, discriminator = VideoGenerator(**g_arguments), VideoDiscriminator(**d_arguments)
    unconditional = () if num_classes else ("num_classes",)
    assert_config_round_trip(generator, g_arguments, allow_default=unconditional)
    assert_config_round_trip(discriminator, d_arguments, allow_default=unconditional)
    z = np.random.default_rng(3).standard_normal((4, 9)).astype(np.float32)
    labels = np.array([0, 1, 2, 3], np.int32)
    g_in = [z, labels] if num_classes else z
    assert_keras_round_trip(generator, g_in, tmp_path)
    clips = keras.ops.convert_to_numpy(generator(g_in))
    assert_keras_round_trip(discriminator, [clips, labels] if num_classes else clips, tmp_path)
    mocogan = VideoGenerator((4, 8, 8, 1), latent_dim=9, num_classes=num_classes, motion_dim=3, filters=2)
    assert_keras_round_trip(mocogan, [z, labels] if num_classes else z, tmp_path)
    s_arguments = dict(video_shape=(4, 8, 8, 3), latent_dim=9, num_classes=num_classes, architecture="sprite",
                       motion_dim=3, filters=3, max_filters=8, temporal_kernel=2, batch_norm=False, embedding_dim=5,
                       sprites=2, sprite_size=(4, 6), whole_pixels=False)
    sprite = VideoGenerator(**s_arguments)
    assert_config_round_trip(sprite, s_arguments, allow_default=unconditional)
    assert_keras_round_trip(sprite, [z, labels] if num_classes else z, tmp_path)


@pytest.mark.parametrize("arguments, message", [
    (dict(video_shape=(16, 16, 1)), "four positive ints"),
    (dict(video_shape=(4, 8, 8, 2)), "1 or 3 channels"),
    (dict(video_shape=(4, 8, 8, 1), architecture="tgan"), "architecture must be one of"),
    (dict(video_shape=(4, 8, 8, 1), latent_dim=8, motion_dim=8), "leaves no content"),
    (dict(video_shape=(4, 8, 8, 1), architecture="sprite", sprite_size=(4, 9)), "within the frames' 8x8"),
    (dict(video_shape=(4, 8, 8, 1), architecture="sprite", sprites=0), "sprites must be a positive integer"),
])
def test_bad_generator_arguments_say_what_to_change(arguments, message):
    with pytest.raises(KganError, match=message):
        VideoGenerator(**arguments)


@pytest.mark.slow(minutes=0.4)
def test_the_video_family_trains_saves_exports_and_samples_by_name(tmp_path):
    from harness import run_family_test

    run_family_test("video", tmp_path)
