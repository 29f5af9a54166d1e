"""mndtrial.power"""
