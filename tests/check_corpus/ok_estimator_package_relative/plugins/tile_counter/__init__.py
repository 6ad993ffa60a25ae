"""tile_counter: a people-count replacement split over several modules."""
