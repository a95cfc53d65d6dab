"""sofp.export"""
