from .tiles import countTiles

__all__ = ["countTiles"]
