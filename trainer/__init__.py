"""Offline side: turns a target video into a dataset and (later) a trained model."""
