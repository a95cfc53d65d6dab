"""sofp.training"""
