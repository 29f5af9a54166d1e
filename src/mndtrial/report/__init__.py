"""mndtrial.report"""
