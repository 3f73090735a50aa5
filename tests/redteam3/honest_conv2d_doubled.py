# include: _conv2d_doubled
