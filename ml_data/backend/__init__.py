"""What an ML backend does besides reading files: links to resources for remote services
(:mod:`~ml_data.backend.presign`) and a model's output folder attached to tasks as predictions
(:mod:`~ml_data.backend.predictions`)."""
