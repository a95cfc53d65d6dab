"""sofp.training.models"""
