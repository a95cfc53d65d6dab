"""sofp.training.data"""
