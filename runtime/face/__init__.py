"""sofp.runtime.face"""
