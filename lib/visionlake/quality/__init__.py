"""Quality checks declared as data, their results, and schema drift (``<lake>/_quality``)."""
