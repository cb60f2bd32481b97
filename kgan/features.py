"""Feature extractors for FID/KID and the manifold metrics.

`DomainFeatures` is the offline default: a small classifier trained on the labelled
data set itself, cached under `saved_models/_features/<dataset>/` with its accuracy on
held-out data beside it; its penultimate layer gives the features. `InceptionFeatures`
(keras.applications.InceptionV3, pool3) makes figures comparable with published FIDs;
its weights come from a local file or a download, with a one-line error offline.
"""

import json
import os

import numpy as np

from kgan.data import load_arrays
from kgan.data.digits import held_out_split
from kgan.errors import KganError
from kgan.runtime.images import atomic_write_bytes

__all__ = ["DomainFeatures", "InceptionFeatures", "held_out_split", "labelled_split"]

FEATURES_ROOT = os.path.join("saved_models", "_features")


def labelled_split(dataset, seed=0):
    """`(x_train, y_train, x_held, y_held, name)` of a labelled image data set, split as `DomainFeatures` does."""
    x, y, kind, name = load_arrays(dataset, seed=seed)
    if kind != "image" or y is None:
        raise KganError(f"domain features need a labelled image data set; {name} is not one")
    return (*held_out_split(x, y, seed=seed), name)


class DomainFeatures:
    """Penultimate-layer features of a classifier trained on the data set's labels.

    Args:
        dataset: a labelled data set name (`digits`, `mnist`, ...; see `kgan.load_dataset`).
        root: the cache folder (default `saved_models/_features`).
        epochs: training epochs when no cached classifier exists.
        split: `(x_train, y_train, x_held, y_held, name)` to train on instead of the data set's
            own split (`labelled_split`); `name` names the cache folder.
        pooled: a classifier that max-pools its features over the image, for objects
            anywhere in a frame (moving digits): three convolutions with pooling between.

    Attributes:
        held_out_accuracy: the classifier's accuracy on the held-out split.
        held_out: `(x, y)` of the held-out split, in [-1, 1].
    """

    def __init__(self, dataset="digits", root=None, epochs=30, seed=0, split=None, pooled=False):
        import keras

        x_train, y_train, x_held, y_held, name = split or labelled_split(dataset, seed=seed)
        self.held_out = (x_held, y_held)
        self.train = (x_train, y_train)
        self.num_classes = int(max(y_train.max(), y_held.max())) + 1
        folder = os.path.join(root or FEATURES_ROOT, name)
        path = os.path.join(folder, "classifier.keras")
        info_path = os.path.join(folder, "info.json")
        if os.path.isfile(path) and os.path.isfile(info_path):
            self.classifier = keras.models.load_model(path)
            with open(info_path) as handle:
                self.held_out_accuracy = json.load(handle)["held_out_accuracy"]
        else:
            keras.utils.set_random_seed(seed)
            self.classifier = self._build(x_train.shape[1:], self.num_classes, pooled)
            self.classifier.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
            self.held_out_accuracy = float(self.classifier.evaluate(x_held, y_held, verbose=0, return_dict=True)
                                           ["accuracy"])
            os.makedirs(folder, exist_ok=True)
            tmp = os.path.join(folder, f".classifier.{os.getpid()}.keras")
            self.classifier.save(tmp)
            os.replace(tmp, path)
            info = {"dataset": name, "held_out_accuracy": self.held_out_accuracy, "held_out": len(x_held),
                    "train": len(x_train), "epochs": epochs, "seed": seed}
            atomic_write_bytes(info_path, json.dumps(info, indent=2).encode())
        self._features = keras.Model(self.classifier.inputs, self.classifier.get_layer("features").output)

    @staticmethod
    def _build(shape, classes, pooled=False):
        import keras
        from keras import layers

        inputs = keras.Input(shape)
        x = layers.Conv2D(32, 3, padding="same", activation="relu")(inputs)
        if pooled:
            x = layers.MaxPooling2D()(x)
            x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
            x = layers.MaxPooling2D()(x)
            x = layers.Conv2D(128, 3, padding="same", activation="relu")(x)
            x = layers.GlobalMaxPooling2D()(x)
        else:
            x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
            x = layers.Flatten()(x)
        x = layers.Dropout(0.3)(x)
        features = layers.Dense(128, activation="relu", name="features")(x)
        outputs = layers.Dense(classes, activation="softmax", name="classes")(features)
        model = keras.Model(inputs, outputs)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def __call__(self, images):
        """Features `[n, 128]` of images in [-1, 1] (uint8 images are rescaled)."""
        images = np.asarray(images)
        if images.dtype == np.uint8:
            images = images.astype(np.float32) / 127.5 - 1.0
        return np.asarray(self._features.predict(images.astype(np.float32), verbose=0, batch_size=256))

    def probabilities(self, images):
        """Class probabilities `[n, classes]` of images in [-1, 1]."""
        return np.asarray(self.classifier.predict(np.asarray(images, np.float32), verbose=0, batch_size=256))

    def predict(self, images):
        """Class predictions of images in [-1, 1]."""
        return self.probabilities(images).argmax(1)


class InceptionFeatures:
    """InceptionV3 pool3 features (2048-d), the extractor of published FIDs.

    Args:
        weights: a local `.h5` file of `keras.applications.InceptionV3(include_top=False)`
            weights, or `"imagenet"` to download them (needs the network once).
    """

    def __init__(self, weights="imagenet"):
        import keras

        fix = ("pass a local weights file (--inception-weights FILE), or leave the flag out for the domain "
               "classifier's features")
        if weights != "imagenet" and not os.path.isfile(weights):
            raise KganError(f"no InceptionV3 weights file at {weights}: {fix}")
        try:
            self.model = keras.applications.InceptionV3(include_top=False, pooling="avg", weights=weights,
                                                        input_shape=(299, 299, 3))
        except Exception as error:
            raise KganError(
                f"cannot load InceptionV3 weights ({str(error).splitlines()[0][:160]}): {fix}"
            ) from None

    def __call__(self, images):
        import tensorflow as tf

        images = np.asarray(images, np.float32)
        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        out = []
        for start in range(0, len(images), 64):
            batch = tf.image.resize(images[start : start + 64], (299, 299))  # [-1, 1] is Inception's own range
            out.append(np.asarray(self.model(batch, training=False)))
        return np.concatenate(out)
