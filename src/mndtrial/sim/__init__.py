"""mndtrial.sim"""
