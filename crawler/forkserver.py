"""Imported only by the extraction pool's forkserver (first in its preload list): it dies with the service.

Never import it elsewhere: it would tie the importing process to its own parent.
"""

from crawler.lifeline import die_with_parent

die_with_parent()
