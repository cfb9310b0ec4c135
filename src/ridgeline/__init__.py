"""ridgeline"""
