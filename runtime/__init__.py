"""sofp.runtime"""
