"""What an ML backend's day needs beside reading files: predicting a whole project, resumably
(:func:`predict_project`), training once enough has changed (:class:`TrainingTrigger`), links to
resources for remote services (:mod:`~ml_data.backend.presign`) and a model's output folder
attached to tasks as predictions (:mod:`~ml_data.backend.predictions`)."""

from ml_data.backend.predict import PredictReport, predict_project
from ml_data.backend.trigger import TrainingRun, TrainingTrigger, TriggerState

__all__ = ["PredictReport", "TrainingRun", "TrainingTrigger", "TriggerState", "predict_project"]
