"""sofp.runtime.sources"""
