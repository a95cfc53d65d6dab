"""sofp.runtime.infer"""
