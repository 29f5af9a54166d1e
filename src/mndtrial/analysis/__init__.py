"""mndtrial.analysis"""
