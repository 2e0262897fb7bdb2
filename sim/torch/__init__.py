"""PyTorch side of vitsim (optional extra ``vitsim[torch]``): capture, exporters, models."""
