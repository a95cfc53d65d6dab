"""sofp.training.raw"""
