"""mndtrial.batch"""
