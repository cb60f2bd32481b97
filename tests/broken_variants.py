"""Deliberately broken variants of kgan, each with the tests that must catch it.

A pytest plugin: `KGAN_BREAK=NAME pytest -n 0 -m "" -p broken_variants TEST` runs TEST against the
variant NAME, patched in at start-up. `tests/test_broken_variants.py` (slow) runs every
guard under its variant and expects it to fail, so a guard that stops guarding is noticed:

    KGAN_BREAK=loss_ignored python -m pytest -n 0 -m "" -p broken_variants \\
        "tests/test_gan.py::test_training_computes_the_chosen_loss_with_noise_and_smoothing"
"""

import os
import sys

import numpy as np

VARIANTS = {}


def variant(*guards):
    """Registers `apply()` as a variant named after the function, guarded by test node ids."""

    def register(apply):
        VARIANTS[apply.__name__] = (apply, guards, (apply.__doc__ or "").strip())
        return apply

    return register


def _wrap(owner, name, make):
    setattr(owner, name, make(getattr(owner, name)))


def _wrap_everywhere(modules, name, make):
    """Wraps `name` once and sets the broken function in every module that holds it by name."""
    broken = make(getattr(modules[0], name))
    for module in modules:
        setattr(module, name, broken)


def _with_attribute(owner, method, attribute, value):
    """Makes `owner.method` run with `self.<attribute>` set to `value`."""

    def make(original):
        def broken(self, *args, **kwargs):
            saved = getattr(self, attribute)
            setattr(self, attribute, value)
            try:
                return original(self, *args, **kwargs)
            finally:
                setattr(self, attribute, saved)

        return broken

    _wrap(owner, method, make)


def _scale_weights(onnx_model, factor):
    """Multiplies every float weight tensor (not the scalars) of an ONNX model by `factor`."""
    import onnx

    for tensor in onnx_model.graph.initializer:
        values = onnx.numpy_helper.to_array(tensor)
        if values.dtype == np.float32 and values.size > 1:
            tensor.CopyFrom(onnx.numpy_helper.from_array(values * factor, tensor.name))


GAN_WIRING = "tests/test_gan.py::test_training_computes_the_chosen_loss_with_noise_and_smoothing"


@variant("tests/test_gan.py::test_relativistic_loss_pairs_fakes_with_the_reals_of_the_step")
def relativistic_loss_without_reals():
    """The relativistic generator loss compares the fakes with zeros, not with the reals' logits."""
    from kgan import losses

    original = losses.relativistic_standard_generator_loss

    def broken(fake_logits, real_logits):
        return original(fake_logits, np.zeros_like(np.asarray(real_logits)))

    broken.needs_real_logits = True
    losses.LOSSES["relativistic_standard"] = (broken, losses.LOSSES["relativistic_standard"][1])


@variant(GAN_WIRING)
def loss_ignored():
    """The train step uses the non-saturating loss whatever `loss=` says."""
    from kgan import gan_options, losses

    def get_loss_pair(name):
        losses.get_loss_pair(name)  # unknown names are still refused
        return losses.LOSSES["non_saturating"]

    gan_options.losses_lib = type("Losses", (), {"get_loss_pair": staticmethod(get_loss_pair),
                                                 "needs_real_logits": staticmethod(losses.needs_real_logits),
                                                 "SMOOTHABLE_LOSSES": losses.SMOOTHABLE_LOSSES,
                                                 "LOSSES": losses.LOSSES})


@variant(GAN_WIRING)
def no_instance_noise():
    """Instance noise is never added."""
    from kgan.gan import GAN

    GAN._with_noise = lambda self, samples, std: samples


@variant(GAN_WIRING)
def no_label_smoothing():
    """The discriminator loss never smooths the real labels."""
    from kgan.gan import GAN

    _with_attribute(GAN, "discriminator_terms", "label_smoothing", 0.0)


@variant("tests/test_gan.py::test_penalties_are_added_with_their_weight")
def penalty_weight_ignored():
    """R1 and the gradient penalty are added with weight 1, whatever their coefficient."""
    from kgan import regularizers

    for name in ("r1_penalty", "gradient_penalty"):
        _wrap(regularizers, name, lambda f: lambda *a: f(*a) / 3.0)


@variant("tests/test_gan.py::test_config_round_trip",
         "tests/test_gan.py::test_keras_round_trip_restores_everything_and_training_continues")
def gan_config_drops_arguments():
    """GAN.get_config drops d_steps and label_smoothing (they come back as their defaults)."""
    from kgan.gan import GAN

    def make(original):
        def broken(self):
            config = original(self)
            for key in ("d_steps", "label_smoothing"):
                config.pop(key)
            return config

        return broken

    _wrap(GAN, "get_config", make)


@variant("tests/models/test_dcgan.py::test_serialization_and_keras_round_trip")
def dcgan_config_drops_dropout():
    """DCGANDiscriminator.get_config drops dropout."""
    from kgan.models import DCGANDiscriminator

    _wrap(DCGANDiscriminator, "get_config", lambda f: lambda self: {k: v for k, v in f(self).items() if k != "dropout"})


@variant("tests/test_demo.py")
def gradio_missing():
    """gradio does not import (the app extra is not installed)."""
    sys.modules["gradio"] = None


@variant("tests/test_demo.py::test_labels_truncation_and_filtered_sampling")
def demo_forces_label_and_truncation():
    """The demo draws with label 0 and truncation 1.0 whatever the request says."""
    from kgan.demo import DemoApp

    def make(original):
        def broken(self, seed, count, label, truncation, model, oversample):
            return original(self, seed, count, 0, 1.0, model, oversample)

        return broken

    _wrap(DemoApp, "_draw", make)


@variant("tests/test_demo.py::test_load_50_requests_at_concurrency_5")
def demo_fails_one_request_in_50():
    """One /generate request in 50 fails."""
    from kgan.demo import DemoApp

    def make(original):
        def broken(self, seed, count, *args, **kwargs):
            if int(seed) == 13:
                raise RuntimeError("broken variant")
            return original(self, seed, count, *args, **kwargs)

        return broken

    _wrap(DemoApp, "generate", make)


@variant("tests/test_cli.py::test_bad_input_is_one_line_and_exit_2")
def parser_exits_1():
    """The command's parser exits with status 1 on bad flags."""
    from kgan import cli

    cli._Parser.error = lambda self, message: self.exit(1, f"{self.prog}: error: {message}\n")


@variant("tests/test_cli.py::test_help_lists_every_flag")
def help_hides_ema():
    """`kgan train --help` does not list --ema."""
    import argparse

    def make(original):
        def broken(self, *names, **kwargs):
            if "--ema" in names:
                kwargs["help"] = argparse.SUPPRESS
            return original(self, *names, **kwargs)

        return broken

    _wrap(argparse.ArgumentParser, "add_argument", make)


@variant("tests/data/test_load_dataset.py::test_image_folder_is_read_and_resized",
         "tests/data/test_load_dataset.py::test_class_subfolders_give_labels")
def folder_reader_zeros_reversed_labels():
    """Image folders read as all-zero images with their labels reversed."""
    from kgan.data import sources

    def make(original):
        def broken(path, image_size):
            x, y = original(path, image_size)
            return np.zeros_like(x), (None if y is None else y[::-1].copy())

        return broken

    _wrap(sources, "_read_folder", make)


@variant("tests/data/test_load_dataset.py::test_npz_and_npy_files")
def array_files_not_rescaled():
    """uint8 and [0, 1] float image files are not rescaled to [-1, 1] (uint8 only cast)."""
    from kgan.data import sources

    def make(original):
        def broken(path):
            x, y, kind = original(path)
            if kind == "image":
                raw = np.load(path)
                x = (raw["x"] if path.endswith(".npz") else raw).astype(np.float32).reshape(x.shape)
            return x, y, kind

        return broken

    _wrap(sources, "_read_array_file", make)


@variant("tests/test_stabilizers.py::test_diff_augment_colour_away_from_the_midpoint")
def colour_is_identity():
    """DiffAugment's colour op returns its input."""
    from kgan import augment

    augment._color = lambda x, u: x


@variant("tests/test_stabilizers.py::test_an_augmented_gans_discriminator_loss_is_on_augmented_images",
         "tests/test_stabilizers.py::test_the_discriminator_sees_every_image_augmented")
def never_augments():
    """The GAN never applies its augmentation policy to what its discriminator sees."""
    from kgan.gan import GAN

    _with_attribute(GAN, "_prepared", "augment", ())


@variant("tests/test_gan.py::test_train_step_updates_both_networks",
         "tests/test_stabilizers.py::test_augmented_gan_trains_under_xla")
def xla_silently_off():
    """jit_compile=True is reported but the train step is built without XLA."""
    from kgan.gan import GAN

    _with_attribute(GAN, "make_train_function", "jit_compile", False)


@variant("tests/test_gan.py::test_conditional_gan_trains_and_generates_by_label")
def labels_off_by_one():
    """generate(labels=k) draws class k + 1."""
    from kgan.gan import GAN

    _wrap(GAN, "_labels_for", lambda f: lambda self, n, labels: (f(self, n, labels) + 1) % self.num_classes)


@variant("tests/test_metrics_features.py::test_precision_recall_by_hand",
         "tests/test_metrics_features.py::test_density_and_coverage_by_hand")
def knn_radii_ignore_k():
    """The k-NN balls have radius 0 (k ignored)."""
    from kgan.runtime.metrics import manifold

    manifold._radii = lambda features, k: np.zeros(len(features))


@variant("tests/test_metrics_features.py::test_kernel_distance_separates_distributions")
def kid_off_diagonal_over_m_squared():
    """KID divides the off-diagonal kernel sums by m^2 instead of m (m - 1)."""
    from kgan.runtime.metrics import kernel

    def wrong(x, y):
        m = len(x)
        k_xx, k_yy, k_xy = kernel._polynomial(x, x), kernel._polynomial(y, y), kernel._polynomial(x, y)
        return float((k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / m**2 - 2.0 * k_xy.mean())

    kernel._unbiased_mmd2 = wrong


@variant("tests/test_metrics_features.py::test_singular_covariances_stay_finite")
def frechet_singular_drops_means():
    """On singular covariances the Fréchet distance forgets the mean term."""
    from kgan.runtime.metrics import frechet

    def make(original):
        def broken(mu1, sigma1, mu2, sigma2, eps=1e-6):
            if np.linalg.matrix_rank(np.atleast_2d(sigma1)) < np.atleast_2d(sigma1).shape[0]:
                return original(mu2, sigma1, mu2, sigma2, eps)
            return original(mu1, sigma1, mu2, sigma2, eps)

        return broken

    _wrap(frechet, "frechet_distance_from_moments", make)


@variant("tests/test_evaluate.py::test_image_metrics_sit_above_their_floor")
def evaluate_scores_against_training_data():
    """Inside evaluate, KID, precision, recall, density and coverage use half the held-out features."""
    from kgan.runtime import metrics

    def make(original):
        def broken(real, fake, *args, **kwargs):
            if sys._getframe(1).f_globals.get("__name__") == "kgan.evaluate":  # the test's own calls stay right
                real = real[: len(real) // 2]
            return original(real, fake, *args, **kwargs)

        return broken

    for name in ("kernel_distance", "precision_recall", "density_coverage"):
        _wrap(metrics, name, make)


@variant("tests/test_evaluate.py::test_stacked_digits_preset_is_scored_by_evaluate")
def stacked_modes_from_one_channel():
    """Stacked-digit modes are read from the first channel only."""
    from kgan import evaluate

    def make(original):
        def broken(images, classifier):
            images = np.asarray(images)
            return original(np.repeat(images[..., :1], 3, axis=-1), classifier)

        return broken

    _wrap(evaluate, "stacked_mode_metrics", make)


def _scale_onnx_output(path, factor):
    import onnx

    model = onnx.load(path)
    output = model.graph.output[0]
    scaled = output.name + "_unscaled"
    for node in model.graph.node:
        node.output[:] = [scaled if o == output.name else o for o in node.output]
    model.graph.initializer.append(onnx.numpy_helper.from_array(np.array(factor, np.float32), "broken_factor"))
    model.graph.node.append(onnx.helper.make_node("Mul", [scaled, "broken_factor"], [output.name]))
    onnx.save(model, path)


@variant("tests/test_inference.py::test_fp16_and_int8_files_load_as_generators")
def int8_output_scaled():
    """The int8 generator gives 0.4 times the right values."""
    from kgan.export import bundle

    def make(original):
        def broken(spec, fp32_path, out_path, work_dir):
            original(spec, fp32_path, out_path, work_dir)
            _scale_onnx_output(out_path, 0.4)

        return broken

    _wrap(bundle, "_int8", make)


@variant("tests/test_export.py::test_export_parity_names_and_metadata")
def parity_figures_faked():
    """The ONNX generator is off by 1 %, and the parity check reports zeros without measuring."""
    from kgan import export
    from kgan.export import bundle

    def to_onnx(function, opset, original=export._to_onnx):
        model = original(function, opset)
        _scale_weights(model, 1.01)
        return model

    def parity(spec, saved_fn, onnx_model, seed=0):
        return {"keras_vs_saved_model": 0.0, "keras_vs_onnxruntime": 0.0, "keras_vs_onnx_reference": 0.0,
                "batches": list(export.PARITY_BATCHES), "reference_batch": export.REFERENCE_BATCH,
                "tolerance": export.PARITY_TOLERANCE}

    bundle._to_onnx, bundle._parity = to_onnx, parity


@variant("tests/test_inference.py::test_score_matches_the_keras_discriminator")
def discriminator_export_wrong():
    """Unconditional exported discriminators are 1 % off (their parity is not checked)."""
    from kgan.export import bundle

    def make(original):
        def broken(spec, saved_fn, onnx_model, seed=0):
            figures = original(spec, saved_fn, onnx_model, seed)
            if spec.role == "discriminator" and "label" not in spec.inputs:
                _scale_weights(onnx_model, 1.01)
            return figures

        return broken

    _wrap(bundle, "_parity", make)


@variant("tests/test_resilience.py::test_mixed_precision_trains_and_exports_float32")
def float32_reload_loses_weights():
    """The float32 reload of a mixed-precision run scales the generator's and discriminator's weights by 0.9."""
    from kgan import run
    from kgan.export import bundle

    def make(original):
        def broken(run_dir):
            gan, config = original(run_dir)
            for model in (gan.generator, gan.discriminator):
                model.set_weights([w * 0.9 for w in model.get_weights()])
            return gan, config

        return broken

    _wrap_everywhere([run, bundle], "load_run", make)


@variant("tests/test_samplers.py::test_topk_keeps_the_best_scored_n_of_k_n_in_drawn_order",
         "tests/test_samplers.py::test_generate_command_samples_with_the_sampler",
         "tests/test_demo.py::test_labels_truncation_and_filtered_sampling")
def topk_keeps_the_worst():
    """Best-of-k oversampling keeps the lowest-scored proposals."""
    from kgan.runtime.samplers import TopK

    def select(self, n, proposals, seed):
        batch = proposals.draw(n * self.k, seed)
        scores = proposals.scores(batch).astype(np.float32)
        keep = np.sort(np.argsort(scores, kind="stable")[:n])
        return dict(self.take(batch, keep), scores=scores[keep]), {"proposals": n * self.k, "acceptance_rate": 1 / self.k}

    TopK.select = select


@variant("tests/test_extension.py::test_a_registered_export_is_written_checked_and_found_by_role")
def registered_exports_ignored():
    """The export writes the generator and the discriminator only, whatever else is registered."""
    from kgan.export import bundle, specs

    bundle.export_specs = lambda gan: [s for s in (b(gan) for b in specs.EXPORTS[:2]) if s is not None]


@variant("tests/test_extension.py::test_a_registered_kind_trains_saves_exports_and_samples")
def runtime_guesses_the_kind_from_the_shape():
    """The runtime ignores the exported sample spec and guesses the kind from the output's rank."""
    from kgan.runtime import inference

    def guess(meta):
        import json

        from kgan.runtime.samples import SampleSpec

        return SampleSpec.infer(json.loads(meta["kgan.output_shape"]))

    inference._sample_spec = guess


@variant("tests/test_gan.py::test_an_added_loss_term_is_an_override_and_is_logged",
         "tests/test_gan.py::test_penalties_are_added_with_their_weight")
def loss_terms_not_logged():
    """Only d_loss, g_loss and the scores are logged, not the terms they sum."""
    from kgan.gan import GAN

    GAN._metric_names = lambda self: ["d_loss", "g_loss", "real_score", "fake_score"]


@variant("tests/test_export.py::test_the_float32_copy_of_a_mixed_precision_gan_holds_every_weight")
def float32_copy_of_g_and_d_only():
    """The float32 copy of a mixed-precision GAN takes the generator's and discriminator's weights only."""
    from kgan import export
    from kgan.export import bundle, convert

    def make(original):
        def broken(gan):
            copy = original(gan)
            if copy is not gan:
                for model in copy._flatten_layers(include_self=False, recursive=False):
                    if model is not copy.generator and model is not copy.discriminator:
                        model.set_weights([np.zeros_like(w) for w in model.get_weights()])
            return copy

        return broken

    _wrap_everywhere([convert, bundle, export], "_as_float32", make)


@variant("tests/test_latent.py::test_the_walk_starts_and_ends_at_the_two_draws",
         "tests/test_old_artifacts.py::test_exports_load_and_give_the_same_samples_scores_and_walks")
def walk_is_linear():
    """Latent walks interpolate linearly instead of on the sphere."""
    from kgan.runtime import latent

    latent.NormalInput.walk = lambda self, a, b, ts: np.concatenate([(1 - t) * a + t * b for t in ts])


@variant("tests/test_gan.py::test_one_discriminator_call_gives_what_two_give")
def joint_call_swaps_real_and_fake():
    """The joined discriminator call hands back the fake logits as the real ones and the other way round."""
    from kgan.gan import GAN

    def make(original):
        def broken(self, *args):
            logits = original(self, *args)
            return tuple(reversed(logits)) if self.joins_batches else logits

        return broken

    _wrap(GAN, "_discriminate_pair", make)


@variant("tests/test_gan.py::test_steps_per_execution_trains_the_same")
def steps_per_execution_dropped():
    """GAN.compile records steps_per_execution but runs one step per execution."""
    from kgan.gan import GAN

    def make(original):
        def broken(self, *args, steps_per_execution=1, **kwargs):
            original(self, *args, **kwargs)
            self._gan_compile_config["steps_per_execution"] = steps_per_execution

        return broken

    _wrap(GAN, "compile", make)


UPDATE_ORDER = ("tests/test_gan.py::test_only_a_simultaneous_update_takes_the_generators_gradient_before_the_"
                "discriminators_step[simultaneous]")


@variant(UPDATE_ORDER)
def simultaneous_update_in_turn():
    """update="simultaneous" steps the discriminator before taking the generator's gradient."""
    from kgan.gan import GAN

    def make(original):
        def broken(self, data):
            if self.update != "simultaneous":
                return original(self, data)
            self.update = "reuse_fakes"
            try:
                return original(self, data)
            finally:
                self.update = "simultaneous"

        return broken

    _wrap(GAN, "train_step", make)


@variant("tests/test_gan.py::test_each_update_shows_the_discriminator_what_it_documents")
def fakes_not_reused():
    """update="reuse_fakes" draws a new batch of fakes for the generator's step."""
    from kgan.gan import GAN

    def make(original):
        def broken(self, labels, batch, training, fake=None, fake_logits=None):
            return original(self, labels, batch, training, fake_logits=fake_logits)

        return broken

    _wrap(GAN, "generator_terms", make)


@variant("tests/test_gan.py::test_a_tape_records_only_what_depends_on_its_variables")
def tapes_watch_everything():
    """The training tapes record every variable they touch, the other side's included."""
    import contextlib

    import tensorflow as tf

    from kgan.gan import GAN

    @contextlib.contextmanager
    def watching(variables):
        with tf.GradientTape() as tape:
            yield tape

    GAN._watching = staticmethod(watching)


@variant("tests/test_mixture.py::test_each_row_comes_from_the_member_it_names")
def mixture_rows_misrouted():
    """A mixture's row i comes from member member[i] + 1."""
    import keras

    from kgan.mixture import GeneratorMixture

    def make(original):
        def broken(self, inputs, training=False):
            *feeds, member = list(inputs)
            shifted = keras.ops.mod(keras.ops.cast(member, "int32") + 1, self.num_members)
            return original(self, [*feeds, shifted], training)

        return broken

    _wrap(GeneratorMixture, "call", make)


@variant("tests/test_mixture.py::test_fitted_weights_recover_a_known_mixture")
def fitted_weights_uniform():
    """`--weights fit` returns uniform weights."""
    from kgan import ensemble

    def make(original):
        def broken(member_features, real_features, bandwidth=None):
            _, _, uniform = original(member_features, real_features, bandwidth)
            k = len(member_features)
            return np.full(k, 1.0 / k), uniform, uniform

        return broken

    _wrap(ensemble, "fit_weights", make)


@variant("tests/test_mixture.py::test_the_diversity_term_is_beta_times_the_member_heads_cross_entropy")
def diversity_without_beta():
    """The generator's diversity term is the head's cross-entropy, not beta times it."""
    from kgan.gan import GAN

    def make(original):
        def broken(self, *args, **kwargs):
            terms = original(self, *args, **kwargs)
            if "diversity" in terms:
                terms["diversity"] = terms["diversity"] / self.diversity
            return terms

        return broken

    _wrap(GAN, "generator_terms", make)


@variant("tests/test_mixture.py::test_member_draws_follow_the_weights_and_can_be_given")
def members_drawn_uniformly():
    """A mixture's members are drawn uniformly whatever the weights."""
    from kgan.runtime.latent import MemberInput

    def make(original):
        def broken(self, n, rng, given=None, truncation=1.0, randomize=False):
            if given is None and not randomize:
                return rng.integers(0, self.num_members, n).astype(np.int64)
            return original(self, n, rng, given, truncation, randomize)

        return broken

    _wrap(MemberInput, "draw", make)


def pytest_configure(config):
    name = os.environ.get("KGAN_BREAK")
    if not name:
        return
    if name not in VARIANTS:
        raise SystemExit(f"KGAN_BREAK={name}: no such variant; choose from {', '.join(VARIANTS)}")
    VARIANTS[name][0]()


@variant("tests/test_discriminator_sampling.py::test_drs_and_mh_recover_the_real_distribution_from_a_junk_mixing_generator",
         "tests/test_discriminator_sampling.py::test_exact_drs_keeps_half_of_an_honest_half_junk_generator")
def drs_accepts_blindly():
    """DRS keeps each proposal with one probability (σ(2) with γ = 0), whatever the discriminator says."""
    from kgan.runtime.samplers import DRS

    DRS._f = lambda self, logits, top: np.full(np.shape(logits), 2.0)


@variant("tests/test_discriminator_sampling.py::test_drs_and_mh_recover_the_real_distribution_from_a_junk_mixing_generator")
def mh_accepts_every_move():
    """Metropolis-Hastings reads every proposal as equally real, so it accepts every move."""
    from kgan.runtime.samplers import MetropolisHastings, Proposals

    def make(original):
        def broken(self, n, proposals, seed):
            blind = Proposals(proposals.draw, lambda batch: np.zeros(len(batch["samples"])))
            return original(self, n, blind, seed)
        return broken

    _wrap(MetropolisHastings, "select", make)


@variant("tests/test_discriminator_sampling.py::test_platt_scaling_recovers_known_parameters")
def platt_slope_dropped():
    """Calibration keeps the raw slope: a = 1, only the offset is fitted."""
    from kgan.runtime import calibration

    _wrap(calibration, "fit_calibration", lambda original: lambda *a, **k: dict(original(*a, **k), a=1.0))


@variant("tests/test_discriminator_sampling.py::test_latent_energy_gradient_matches_finite_differences_and_keras")
def latent_energy_gradient_halved():
    """latent_energy.onnx (and its Keras reference) give half the gradient of the energy."""
    from kgan import export

    def make(original):
        def broken(gan):
            spec = original(gan)
            if spec is not None:
                call = spec.call
                spec.call = lambda feeds: {k: v * 0.5 if k == "grad_z" else v for k, v in call(feeds).items()}
            return spec
        return broken

    index = export.EXPORTS.index(export.latent_energy_export)
    export.EXPORTS[index] = make(export.latent_energy_export)


@variant("tests/test_discriminator_sampling.py::test_langevin_samples_the_latent_target_of_a_known_energy")
def langevin_climbs_the_energy():
    """Langevin steps up the energy's gradient instead of down."""
    from kgan.runtime.samplers import Langevin, Proposals

    def make(original):
        def broken(self, n, proposals, seed):
            energy = proposals.energy
            flipped = (lambda feeds: (lambda e, g: (e, -np.asarray(g)))(*energy(feeds))) if energy else None
            return original(self, n, Proposals(proposals.draw, proposals.score, proposals.latents, flipped,
                                               proposals.decode), seed)
        return broken

    _wrap(Langevin, "select", make)


@variant("tests/test_discriminator_sampling.py::test_refit_moves_the_exported_discriminator_toward_the_density_ratio")
def refit_trains_nothing():
    """refit_discriminator returns without training."""
    from kgan.gan import GAN

    GAN.refit_discriminator = lambda self, *args, **kwargs: 0.0


@variant("tests/test_discriminator_sampling.py::test_the_default_refit_is_twice_the_training_steps_on_fresh_draws_and_none_on_rows",
         "tests/test_discriminator_sampling.py::test_export_calibrates_on_the_run_data_and_the_cli_samples_and_recalibrates")
def default_refit_refits_nothing():
    """kgan export's default ("auto") refits the discriminator for no steps, whatever the data."""
    import kgan.export.calibrate as calibrate

    calibrate.auto_refit_steps = lambda gan, data: 0


@variant("tests/test_stabilizers.py::test_a_packed_discriminator_judges_a_single_sample_by_its_own_log_ratio")
def packed_judge_packs_the_sample_with_itself():
    """A packed discriminator judges a sample in a pack of copies of itself, not beside references."""
    from kgan.gan import GAN

    import tensorflow as tf

    def make(original):
        def broken(self, samples):
            shape = tuple(samples.shape[1:])
            firsts = tf.reshape(samples, (-1, self.pack, *shape))[:, :1]
            return original(self, tf.reshape(tf.repeat(firsts, self.pack, axis=1), (-1, *shape)))
        return broken

    _wrap(GAN, "_packed", make)


@variant("tests/test_video.py::test_the_exported_strided_slice_gradient_is_tensorflows")
def strided_slice_gradient_ignores_strides():
    """The exported StridedSlice gradient scatters into a plain begin:end slice, ignoring strides and masks."""
    from kgan import export

    import tensorflow as tf

    def broken(op, grad):
        shape = tf.shape(op.inputs[0])
        size = tf.reduce_prod(shape)
        picked = tf.strided_slice(tf.reshape(tf.range(size), shape), op.inputs[1], op.inputs[2])
        count = tf.minimum(tf.size(picked), tf.size(grad))
        flat = tf.scatter_nd(tf.reshape(picked, [-1, 1])[:count], tf.reshape(grad, [-1])[:count], tf.reshape(size, [1]))
        return tf.reshape(flat, shape), None, None, None

    export._GRADIENTS["StridedSlice"] = broken


@variant("tests/test_video.py::test_consistency_acd_and_speeds_on_constructed_clips")
def consistency_ignores_confidence():
    """Content consistency counts clips of one class whatever the classifier's confidence."""
    from kgan.runtime.metrics import video

    video.content_consistency = lambda probabilities, threshold=0.8: float(np.mean(np.all(
        np.asarray(probabilities).argmax(-1) == np.asarray(probabilities).argmax(-1)[:, :1], axis=1)))


@variant("tests/test_layers.py::test_place_sprites_blends_fractional_positions_and_keeps_the_ink")
def place_sprites_rounds_positions():
    """Sprites are drawn at the nearest whole pixel: right at whole positions, no gradient between them."""
    from kgan import layers

    weights = layers.PlaceSprites._weights
    layers.PlaceSprites._weights = staticmethod(
        lambda size, side, share: weights(size, side, layers.ops.round(share * (size - side)) / float(size - side)))


@variant("tests/test_layers.py::test_whole_pixel_sprites_are_drawn_sharp_with_the_blended_gradient")
def whole_pixel_sprites_without_gradient():
    """Whole-pixel sprites are drawn at rounded positions with no straight-through gradient."""
    from kgan import layers

    def call(self, sprites, positions):
        room = layers.ops.convert_to_tensor([self.canvas[0] - sprites.shape[2], self.canvas[1] - sprites.shape[3]],
                                            positions.dtype)
        whole = layers.ops.round(positions * room) / room if self.whole_pixels else positions
        return self._draw(sprites, whole)

    layers.PlaceSprites.call = call


@variant("tests/models/test_video_models.py::test_frame_projection_lets_the_frame_judge_weigh_the_label")
def frame_projection_ignored():
    """The video discriminator's projection covers the clip's features only, whatever `frame_projection` says."""
    from kgan.models import video

    def make(original):
        def init(self, *args, frame_projection=False, **kwargs):
            original(self, *args, **kwargs)
            self.frame_projection = bool(frame_projection)

        return init

    _wrap(video.VideoDiscriminator, "__init__", make)


@variant("tests/test_text_gan.py::test_the_relaxed_training_sample_sharpens_with_the_generator_step")
def relaxation_never_sharpens():
    """The GAN gives the sequence generator step 0 always: its relaxed sample never sharpens."""
    from kgan.models.sequence import SequenceGenerator

    def make(original):
        return lambda self, batch, labels, uniform, step: original(self, batch, labels, uniform, 0)

    _wrap(SequenceGenerator, "training_sample", make)


@variant("tests/test_text_gan.py::test_a_text_gan_trains_on_token_ids_and_round_trips")
def token_ids_shown_as_the_first_token():
    """The discriminator is shown every token id as the one-hot of token 0."""
    from kgan.models.sequence import SequenceGenerator

    def make(original):
        return lambda self, samples: original(self, samples * 0 if len(samples.shape) == 2 else samples)

    _wrap(SequenceGenerator, "discriminator_view", make)


@variant("tests/test_samples.py::test_tokens_show_as_text_up_to_the_end_and_come_back",
         "tests/test_text_gan.py::test_text_export_gives_the_same_tokens_everywhere_and_the_runtime_strings")
def text_goes_past_its_end():
    """Token ids are shown as text up to the last token, not the first end token."""
    from kgan.runtime import samples, text

    def decode(tokens, vocabulary, separator=""):
        return [separator.join(vocabulary[int(t)] for t in row) for row in np.asarray(tokens)]

    text.decode = samples.decode = decode  # samples may have bound the original already


@variant("tests/test_text_metrics.py::test_self_bleu_and_uniqueness_see_a_collapsed_sampler")
def self_bleu_includes_the_sample_itself():
    """Self-BLEU scores each sample against all samples, itself included (always 1)."""
    from kgan.runtime.metrics import text

    def self_bleu(samples, orders=text.BLEU_ORDERS):
        samples = [list(s) for s in samples]
        return text.bleu(samples, samples, orders)

    text.self_bleu = self_bleu


def _break_page(old, new):
    """Serves sites a kgan.js with `old` replaced by `new` (which must occur once)."""
    import shutil
    import tempfile

    import kgan.web

    folder = tempfile.mkdtemp(prefix="kgan-broken-page-")
    for name in kgan.web.PAGE_FILES:
        shutil.copyfile(os.path.join(kgan.web._HERE, name), os.path.join(folder, name))
    path = os.path.join(folder, "kgan.js")
    with open(path) as handle:
        source = handle.read()
    assert source.count(old) == 1, f"the page no longer has {old!r}"
    with open(path, "w") as handle:
        handle.write(source.replace(old, new))
    kgan.web._HERE = folder


@variant("tests/test_web.py::test_generate_draws_the_models_samples_and_scores_on_the_canvas")
def page_ignores_the_value_range():
    """The web page maps image values from [0, 1] to pixels, whatever the sample spec's range."""
    _break_page("function range() { return state.spec.value_range || [-1, 1]; }", "function range() { return [0, 1]; }")


@variant("tests/test_web.py::test_a_broken_model_file_shows_a_message_not_a_blank_page")
def page_trusts_damaged_files():
    """The web page skips the SHA-256 check of the model files against the manifest."""
    _break_page("if (hex !== expected) {", "if (false) {")


@variant("tests/test_web.py::test_text_models_show_lines_that_are_the_models_tokens")
def page_text_goes_past_its_end():
    """The web page shows every token of a line, past the first end token."""
    _break_page("if (stop && id === 0) break;", "")


# -- the mixture, video, GAN and runtime-input behaviours that used to pass a break unnoticed ----------


@variant("tests/test_mixture.py::test_training_runs_each_member_on_its_own_rows_only")
def mixture_trains_members_on_every_row():
    """In training, every member runs on the whole batch and each row keeps its own member's
    output (the inference path), so batch statistics mix the members' rows."""
    from kgan.mixture import GeneratorMixture

    call = GeneratorMixture.call
    GeneratorMixture.call = lambda self, inputs, training=False: call(self, inputs, training=False) if not training \
        else _all_rows(self, inputs)


def _all_rows(mixture, inputs):
    import tensorflow as tf

    *feeds, member = list(inputs)
    feeds = feeds if mixture.num_classes else feeds[0]
    rows = tf.one_hot(tf.cast(tf.reshape(member, [-1]), tf.int32), mixture.num_members)
    outs = [model(feeds, training=True) for model in mixture.members]
    return tf.add_n([o * tf.reshape(rows[:, k], (-1,) + (1,) * (len(o.shape) - 1)) for k, o in enumerate(outs)])


@variant("tests/test_mixture.py::test_training_batches_are_blocks_sized_by_the_weights")
def training_members_ignore_the_weights():
    """A training batch gives every member an equal block, whatever the mixture's weights."""
    from kgan import mixture

    blocks = mixture.training_members
    mixture.training_members = lambda batch, weights: blocks(batch, [1.0 / len(weights)] * len(weights))


@variant("tests/test_mixture.py::test_parity_feeds_hold_every_member_in_any_k_rows_and_draws_follow_seeds")
def parity_members_drawn_by_weight():
    """The export's parity feeds draw members by the weights, so a light member may be left unchecked."""
    from kgan.runtime.latent import MemberInput

    draw = MemberInput.draw
    MemberInput.draw = lambda self, n, rng, given=None, truncation=1.0, randomize=False: draw(self, n, rng, given,
                                                                                               truncation, False)


@variant("tests/test_video.py::test_gif_and_mp4_folders_read_back_what_was_written")
def clip_folders_cropped():
    """Clips read at another --image-size are cut to its corner instead of resized."""
    from kgan.data import clips

    clips._resize = lambda frames, size: frames[:, :size, :size]


@variant("tests/test_video.py::test_the_gallery_plays_each_clip_in_its_own_file_under_its_caption")
def gallery_repeats_the_first_clip():
    """The demo's gallery plays the first clip under every caption."""
    from kgan.runtime.samples import VideoKind

    gallery = VideoKind.gallery
    VideoKind.gallery = lambda self, shown, spec, captions, folder=None: gallery(
        self, np.repeat(np.asarray(shown)[:1], len(shown), axis=0), spec, captions, folder)


@variant("tests/test_gan.py::test_d_steps_is_the_discriminators_updates_per_generator_update_in_every_mode")
def d_steps_plus_the_shared_step():
    """With d_steps > 1, reuse_fakes and simultaneous updates take d_steps discriminator steps and
    then the shared one."""
    from kgan.gan import GAN

    step = GAN.train_step

    def train_step(self, data):
        import tensorflow as tf

        if self.update != "alternating" and self.d_steps > 1:
            real, labels = self._unpack(data)
            batch = tf.shape(real)[0]
            d_vars = self.discriminator.trainable_variables
            with self._watching(d_vars) as tape:
                terms, _ = self.discriminator_terms(real, labels, batch, training=True)
                loss = self._check_terms("discriminator", terms)
            self.d_optimizer.apply(tape.gradient(loss, d_vars), d_vars)
        return step(self, data)

    GAN.train_step = train_step


@variant("tests/test_gan.py::test_instance_noise_anneals_to_zero")
def instance_noise_on_a_cosine():
    """Instance noise anneals on a cosine, not linearly (equal at the start, middle and end)."""
    import numpy as np_
    import tensorflow as tf

    from kgan.gan import GAN

    def noise_std(self):
        if not self.instance_noise:
            return None
        done = tf.minimum(tf.cast(self.g_optimizer.iterations, tf.float32) / max(self.instance_noise_steps, 1), 1.0)
        return self.instance_noise * 0.5 * (1.0 + tf.cos(np_.pi * done))

    GAN._noise_std = noise_std


@variant("tests/test_inference.py::test_score_matches_the_keras_discriminator")
def uint8_scored_unscaled():
    """The runtime scores uint8 images as their 0..255 values, not the [-1, 1] floats they stand for."""
    from kgan.runtime.samples import ImageKind

    convert = ImageKind.from_display
    ImageKind.from_display = lambda self, samples, spec: np.asarray(samples, np.float32) \
        if np.asarray(samples).dtype == np.uint8 else convert(self, samples, spec)


@variant("tests/test_inference.py::test_truncation_scales_the_latents")
def truncation_unbounded():
    """The runtime takes any positive truncation."""
    from kgan.runtime.inference import GeneratorRuntime

    check = GeneratorRuntime._check_truncation
    GeneratorRuntime._check_truncation = staticmethod(lambda truncation: float(truncation) if float(truncation) > 2
                                                      else check(truncation))


@variant("tests/test_latent.py::test_truncation_scales_normal_latents_only_and_a_walk_between_parallel_latents_is_a_line")
def uniforms_truncated():
    """A token sampler's uniforms are scaled by the truncation, as the normal latents are."""
    from kgan.runtime.latent import UniformInput

    draw = UniformInput._draw
    UniformInput._draw = lambda self, n, rng, truncation: draw(self, n, rng, truncation) * np.float32(truncation)


@variant("tests/test_latent.py::test_truncation_scales_normal_latents_only_and_a_walk_between_parallel_latents_is_a_line")
def slerp_of_parallel_latents():
    """A spherical walk between parallel latents (angle 0) gives zeros, not the straight line."""
    from kgan.runtime import latent

    def slerp(a, b, t):
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        cos = np.sum(a64 * b64, -1, keepdims=True) / (np.linalg.norm(a64, axis=-1, keepdims=True)
                                                      * np.linalg.norm(b64, axis=-1, keepdims=True) + 1e-12)
        omega = np.arccos(np.clip(cos, -1.0, 1.0))
        sin = np.where(np.sin(omega) < 1e-6, 1.0, np.sin(omega))
        return (np.sin((1.0 - t) * omega) / sin * a64 + np.sin(t * omega) / sin * b64).astype(np.float32)

    latent.slerp = slerp


@variant("tests/test_inference.py::test_interpolation_walks_from_seed_to_seed")
def walk_ignores_labels():
    """The runtime's latent walk cycles the classes instead of keeping the label it was given."""
    from kgan.runtime.inference import GeneratorRuntime

    interpolate = GeneratorRuntime.interpolate
    GeneratorRuntime.interpolate = lambda self, a, b, steps=16, n=1, labels=None, truncation=1.0, **given: \
        interpolate(self, a, b, steps, n, None, truncation, **given)
