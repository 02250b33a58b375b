"""Thin trio shells that wire the pure layers to the outside world, one actor per concern."""
