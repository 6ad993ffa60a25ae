DOORS: dict[str, int] = {}
