"""Making the classifier: data, training, evaluation, ensembles, shipping, distillation.

The app never imports this package (``tests/test_serving_imports.py`` checks it);
it serves what ``python -m training.ship`` leaves in ``emotion/shipped_model``.
Each stage is a module and a command:

- ``python -m training.train --recipe training/recipes/NAME.toml``: one network (``train``,
  ``config``, ``callbacks``, ``teachers``, ``history``; ``data``, ``augment``, ``models``);
- ``python -m training.ensemble``: average trained runs into one model;
- ``python -m training.ship``: export, tune on PublicTest, measure PrivateTest once
  (``evaluate``, ``pipeline``, ``latency``);
- ``python -m training.evaluate``: score a model folder on a split;
- ``python -m training.soft_labels``: a teacher's probabilities for distillation (``slim``
  narrows a trained network to start a student);
- ``python -m training.fer_pack`` and ``training/gpu_train.sh``: train on a lent GPU machine.
"""
