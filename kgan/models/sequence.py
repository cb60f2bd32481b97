"""Sequence generator and discriminator: exact sampling, a relaxed sample to train on, likelihoods.

`SequenceGenerator` reads a start token, then writes `length` tokens, each fed back as
the next input. Three views of one network:

- `call(u)` (and `label`): the sample. Each token is drawn by inverse-transform
  sampling: the first token whose cumulative softmax exceeds `u[:, t]`. Exact, and
  deterministic for given uniforms, so Keras, the SavedModel and ONNX give the same
  tokens; the input is `[batch, length]` floats, not `[batch, length, vocabulary]`.
- `relaxed(gumbel, inverse_temperature)`: what the adversarial step trains on (RelGAN,
  Nie et al., ICLR 2019): the Gumbel-max token is fed back, and the discriminator sees
  `softmax(inverse_temperature * (logits + gumbel))`, a differentiable one-hot.
- `log_probs(tokens)`: the model's log-likelihood of given sequences under teacher
  forcing, for maximum-likelihood pretraining and NLL-test.

`SequenceDiscriminator` judges one-hot (real) or soft one-hot (relaxed) sequences
`[batch, length, vocab]`: an embedding (a matrix product, so soft tokens embed as
their mixture), convolutions of several widths, max pooling over time and dense
layers, as in SeqGAN and RelGAN.
"""

import keras
from keras import layers, ops

from kgan.errors import KganError
from kgan.layers import LeakyReLU
from kgan.models._heads import add_heads
from kgan.models.base import Discriminator, Generator
from kgan.models._shapes import check_member_head, check_num_classes, check_positive
from kgan.runtime.latent import ClassInput, LatentPrior, UniformInput
from kgan.runtime.samples import SampleSpec

__all__ = ["SequenceGenerator", "SequenceDiscriminator", "CELLS"]

CELLS = {"lstm": layers.LSTMCell, "gru": layers.GRUCell}


def inverse_transform(logits, u):
    """Token ids `[batch]`: the first index whose cumulative softmax exceeds `u` `[batch]`."""
    probabilities = ops.softmax(ops.cast(logits, "float32"), axis=-1)
    cumulative = ops.cumsum(probabilities, axis=-1)
    threshold = ops.expand_dims(u, -1) * cumulative[:, -1:]
    below = ops.sum(ops.cast(cumulative <= threshold, "int32"), axis=-1)
    return ops.minimum(below, ops.shape(logits)[-1] - 1)


@keras.saving.register_keras_serializable(package="kgan")
class SequenceGenerator(Generator, keras.Model):
    """An LSTM or GRU language model that writes `length` tokens of a vocabulary.

    In a `GAN` it declares its own inputs (`latent_prior`: uniforms `u`, and `label`),
    what it trains on (`training_sample`: the relaxed sample, its inverse temperature
    annealed as RelGAN's `max_inverse_temperature ** (step / temperature_steps)`) and how the
    discriminator sees real and sampled tokens (`discriminator_view`: one-hots).

    Args:
        vocab_size: tokens the model writes.
        length: tokens a sequence.
        num_classes: classes for a conditional generator (a label embedding joined to
            every step's input), or None.
        cell: `"lstm"` or `"gru"`.
        embedding_dim: size of the token (and label) embedding.
        hidden_dim: units of the recurrent cell.
        max_inverse_temperature: the relaxation's final inverse temperature (RelGAN: 100 or
            1000); higher: sharper soft one-hots, noisier gradients.
        temperature_steps: generator steps over which it rises from 1 (RelGAN: its
            adversarial steps), then stays.
        temperature: the sampling temperature: the sample and the likelihoods use
            `softmax(logits / temperature)` (below 1: more typical texts, less variety;
            Caccia et al.'s knob). Training (the relaxed sample, pretraining) reads it too.

    Example:
        >>> g = SequenceGenerator(vocab_size=7, length=5)
        >>> g(keras.random.uniform((3, 5))).shape
        TensorShape([3, 5])
    """

    kind = "tokens"

    @classmethod
    def for_spec(cls, spec, latent_dim=None, num_classes=None, **options):
        """From the tokens' spec: its vocabulary and length (the uniforms `u` are its latents)."""
        return cls(len(spec.vocabulary), spec.shape[0], num_classes=num_classes, **options)

    def __init__(self, vocab_size, length, num_classes=None, cell="lstm", embedding_dim=32, hidden_dim=32,
                 max_inverse_temperature=100.0, temperature_steps=1000, temperature=1.0, **kwargs):
        vocab_size = check_positive("vocab_size", vocab_size)
        length = check_positive("length", length)
        num_classes = check_num_classes(num_classes)
        if cell not in CELLS:
            raise KganError(f"cell must be one of {', '.join(CELLS)}, got {cell!r}")
        if not float(max_inverse_temperature) >= 1.0:
            raise KganError(f"max_inverse_temperature must be at least 1, got {max_inverse_temperature!r}")
        temperature_steps = check_positive("temperature_steps", temperature_steps)
        if not float(temperature) > 0.0:
            raise KganError(f"temperature must be a positive number, got {temperature!r}")
        super().__init__(**kwargs)
        self.temperature = float(temperature)
        self.max_inverse_temperature, self.temperature_steps = float(max_inverse_temperature), temperature_steps
        self.vocab_size, self.length, self.num_classes = vocab_size, length, num_classes
        self.cell_type, self.embedding_dim, self.hidden_dim = cell, embedding_dim, hidden_dim
        # One row more than the vocabulary: the start token, never written.
        self.token_embedding = layers.Embedding(vocab_size + 1, embedding_dim, name="token_embedding")
        self.label_embedding = layers.Embedding(num_classes, embedding_dim, name="label_embedding") \
            if num_classes else None
        self.cell = CELLS[cell](hidden_dim, name="cell")
        self.token_logits = layers.Dense(vocab_size, dtype="float32", name="token_logits")
        # Built by one pass, so the weights exist (for set_weights and loading) before any call.
        self._sample(ops.zeros((1, length)), ops.zeros((1,), "int32") if num_classes else None)
        self.built = True

    # -- the recurrence ------------------------------------------------------

    def _start(self, batch, labels):
        tokens = ops.full((batch,), self.vocab_size, "int32")
        states = [ops.zeros((batch, self.hidden_dim))] * (2 if self.cell_type == "lstm" else 1)
        extra = self.label_embedding(labels) if self.label_embedding is not None else None
        return tokens, states, extra

    def _step(self, previous, states, extra):
        """Logits of the next token after `previous` (ids `[batch]`), and the new states."""
        x = self.token_embedding(previous)
        if extra is not None:
            x = ops.concatenate([x, extra], axis=-1)
        output, states = self.cell(x, states)
        logits = self.token_logits(output)
        return (logits if self.temperature == 1.0 else logits / self.temperature), list(states)

    def _split(self, inputs):
        if self.num_classes:
            if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
                raise KganError("a conditional sequence generator takes [u, label]")
            return inputs[0], ops.cast(inputs[1], "int32")
        return inputs, None

    def _unroll(self, batch, labels, choose):
        """Runs the `length` steps: `choose(t, logits)` gives the token fed back and what to keep."""
        previous, states, extra = self._start(batch, labels)
        kept = []
        for t in range(self.length):
            logits, states = self._step(previous, states, extra)
            previous, keep = choose(t, logits)
            kept.append(keep)
        return kept

    def _sample(self, u, labels):
        u = ops.cast(u, "float32")

        def choose(t, logits):
            token = inverse_transform(logits, u[:, t])
            return token, token

        return ops.cast(ops.stack(self._unroll(ops.shape(u)[0], labels, choose), axis=1), "int64")

    def call(self, inputs, training=False):
        u, labels = self._split(inputs)
        return self._sample(u, labels)

    def relaxed(self, gumbel, inverse_temperature, labels=None):
        """RelGAN's relaxed sample: softmax of (logits + Gumbel noise) times the inverse
        temperature, with the Gumbel-max token fed back to the next step.

        Args:
            gumbel: Gumbel noise `[batch, length, vocab]`.
            inverse_temperature: the relaxation's sharpness (a scalar; `inverse_temperature(step)`).
            labels: class labels `[batch]` of a conditional generator.

        Returns:
            `(soft one-hots [batch, length, vocab], tokens [batch, length])`.
        """
        def choose(t, logits):
            perturbed = logits + gumbel[:, t]
            token = ops.stop_gradient(ops.cast(ops.argmax(perturbed, axis=-1), "int32"))
            return token, (ops.softmax(inverse_temperature * perturbed, axis=-1), token)

        soft, tokens = zip(*self._unroll(ops.shape(gumbel)[0], labels, choose))
        return ops.stack(soft, axis=1), ops.cast(ops.stack(tokens, axis=1), "int64")

    def log_probs(self, tokens, labels=None):
        """Per-token log-likelihoods of sequences under teacher forcing.

        Args:
            tokens: token ids `[batch, length]`.
            labels: class labels `[batch]` of a conditional generator.

        Returns:
            Log-likelihoods `[batch, length]`, float32.
        """
        tokens = ops.cast(tokens, "int32")

        def choose(t, logits):
            log_p = ops.log_softmax(logits, axis=-1)
            return tokens[:, t], ops.take_along_axis(log_p, tokens[:, t, None], axis=-1)[:, 0]

        return ops.stack(self._unroll(ops.shape(tokens)[0], labels, choose), axis=1)

    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if self.num_classes else input_shape
        return (shape[0], self.length)

    # -- in a GAN -------------------------------------------------------------

    def latent_prior(self):
        """Its named inputs: `u` `[batch, length]` uniforms, and `label` when conditional."""
        return LatentPrior([UniformInput("u", self.length)]
                           + ([ClassInput("label", self.num_classes)] if self.num_classes else []))

    @property
    def sample_spec(self):
        """Tokens named by their ids; `GAN(sample_spec=...)` gives the data's own vocabulary."""
        return SampleSpec("tokens", (self.length,), "int64", vocabulary=[str(i) for i in range(self.vocab_size)],
                          separator=" ")

    def inverse_temperature(self, step):
        """RelGAN's exponential schedule: `max ** min(step / temperature_steps, 1)`.

        Args:
            step: the generator's adversarial step (a scalar tensor or int).

        Returns:
            The inverse temperature at that step, float32.
        """
        progress = ops.minimum(ops.cast(step, "float32") / float(self.temperature_steps), 1.0)
        return ops.power(self.max_inverse_temperature, progress)

    def training_sample(self, batch, labels, uniform, step):
        """The relaxed sample the adversarial step trains on.

        Args:
            batch: rows of the training batch.
            labels: their class labels (None when unconditional).
            uniform: `uniform(shape)` draws the step's uniforms, made into Gumbel noise here.
            step: the generator's step, for the temperature schedule.

        Returns:
            Soft one-hots `[batch, length, vocab]`.
        """
        u = uniform((batch, self.length, self.vocab_size))
        gumbel = -ops.log(-ops.log(u + 1e-10) + 1e-10)
        return self.relaxed(gumbel, self.inverse_temperature(step), labels)[0]

    def discriminator_view(self, samples):
        """Samples as the discriminator takes them.

        Args:
            samples: token ids `[b, length]` (int, or float from a data pipeline) or soft
                one-hots `[b, length, vocab]`.

        Returns:
            One-hots `[b, length, vocab]` (soft one-hots as they are).
        """
        if len(samples.shape) == 3:
            return samples
        # A comparison, not OneHot: ONNX's reference evaluator fails on the OneHot tf2onnx writes.
        ids = ops.expand_dims(ops.cast(samples, "int32"), -1)
        return ops.cast(ops.equal(ids, ops.arange(self.vocab_size, dtype="int32")), "float32")

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "vocab_size": self.vocab_size, "length": self.length,
                "num_classes": self.num_classes, "cell": self.cell_type, "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim, "max_inverse_temperature": self.max_inverse_temperature,
                "temperature_steps": self.temperature_steps, "temperature": self.temperature}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="kgan")
class SequenceDiscriminator(Discriminator, keras.Model):
    """Embedding -> `Conv1D` of several widths -> max over time -> dense: one logit a sequence.

    The input `tokens` is `[batch, length, vocab]` float: one-hot rows for real
    sequences, the generator's soft one-hots while it trains.

    Args:
        vocab_size: tokens of the vocabulary.
        length: tokens a sequence.
        num_classes: projection discriminator over the pooled features, or None.
        embedding_dim: size of the token embedding.
        widths: widths of the convolutions (tokens they span).
        filters: filters of each width.
        hidden_units: the dense layer after pooling.
        dropout: dropout before the dense layer.
        spectral_norm: wrap convolutions and dense layers in `SpectralNormalization`.
        member_head: K adds MGAN's classifier of mixture members.

    Example:
        >>> d = SequenceDiscriminator(vocab_size=7, length=5)
        >>> d(keras.ops.one_hot(keras.ops.zeros((2, 5), "int32"), 7)).shape
        TensorShape([2, 1])
    """

    @classmethod
    def for_spec(cls, spec, num_classes=None, pack=1, **options):
        return cls(len(spec.vocabulary), spec.shape[0], num_classes=num_classes, **options)

    def __init__(self, vocab_size, length, num_classes=None, embedding_dim=64, widths=(2, 3, 4, 5), filters=64,
                 hidden_units=64, dropout=0.25, spectral_norm=False, member_head=None, **kwargs):
        vocab_size = check_positive("vocab_size", vocab_size)
        length = check_positive("length", length)
        num_classes = check_num_classes(num_classes)
        widths = tuple(int(w) for w in widths)
        if not widths or any(w < 1 or w > length for w in widths):
            raise KganError(f"widths must be between 1 and the length {length}, got {list(widths)}")

        def wrap(layer):
            return layers.SpectralNormalization(layer, name=f"{layer.name}_sn") if spectral_norm else layer

        tokens = keras.Input((length, vocab_size), name="tokens")
        embedded = layers.Dense(embedding_dim, use_bias=False, name="token_embedding")(tokens)
        pooled = []
        for width in widths:
            x = wrap(layers.Conv1D(filters, width, name=f"conv{width}"))(embedded)
            x = LeakyReLU(0.2, name=f"conv{width}_act")(x)
            # The max over time as one window (MaxPool): tf2onnx writes GlobalMaxPooling1D as a
            # GlobalMaxPool whose output ONNX's reference evaluator shapes differently.
            x = layers.MaxPooling1D(length - width + 1, name=f"pool{width}")(x)
            pooled.append(layers.Flatten(name=f"pool{width}_flat")(x))
        x = pooled[0] if len(pooled) == 1 else layers.Concatenate(name="pooled")(pooled)
        if dropout:
            x = layers.Dropout(dropout, name="dropout")(x)
        x = wrap(layers.Dense(hidden_units, name="hidden"))(x)
        features = LeakyReLU(0.2, name="features")(x)
        logit = wrap(layers.Dense(1, dtype="float32", name="logit"))(features)
        member_head = check_member_head(member_head)
        inputs, outputs = add_heads(tokens, logit, features, num_classes, member_head)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.vocab_size, self.length, self.num_classes = vocab_size, length, num_classes
        self.embedding_dim, self.widths, self.filters = embedding_dim, widths, filters
        self.hidden_units, self.dropout, self.spectral_norm = hidden_units, dropout, spectral_norm
        self.member_head = member_head

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable, "vocab_size": self.vocab_size, "length": self.length,
                "num_classes": self.num_classes, "embedding_dim": self.embedding_dim, "widths": list(self.widths),
                "filters": self.filters, "hidden_units": self.hidden_units, "dropout": self.dropout,
                "spectral_norm": self.spectral_norm, "member_head": self.member_head}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
