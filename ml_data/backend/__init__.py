"""What an ML backend's day needs beside reading files: predicting a whole project, resumably
(:func:`predict_project`), and training once enough has changed (:class:`TrainingTrigger`)."""

from ml_data.backend.predict import PredictReport, predict_project
from ml_data.backend.trigger import TrainingRun, TrainingTrigger, TriggerState

__all__ = ["PredictReport", "TrainingRun", "TrainingTrigger", "TriggerState", "predict_project"]
