"""User code that TFX loads by module path, grouped by stage:

- `preprocessing`: Transform's `preprocessing_fn`;
- `training/`: the Trainer's `run_fn` (`training.trainer`), its settings and plan, the
  networks, losses, augmentation, checkpoints and snapshot selection;
- `quality/`: FID, KID, precision/recall and the feature extractors they run on, shared
  by the Trainer's snapshot selection and the FidEvaluator;
- what several stages share: image shapes (`images`, `features`), reading the transformed
  examples (`data`), the generator's serving export (`export`), settings records
  (`settings`), Keras (`keras`) and progress bars (`progress`).

tensorflow-transform flips `tf.keras` to Keras 2 as a side effect of being
imported, so the Keras behind `tf.keras` depends on import order. We pin it here,
before anything imports TensorFlow, and build every model with `tf_keras`
explicitly (see `modules.keras`).
"""
import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
