"""sofp.runtime.flow"""
