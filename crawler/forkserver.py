"""Imported only by the extraction pool's forkserver (first in its preload list): it dies with the service,
and loads the language model once for every worker it forks (seconds to load, shared pages after).

Never import it elsewhere: it would tie the importing process to its own parent.
"""

from crawler.language import identifier
from crawler.lifeline import die_with_parent

die_with_parent()
identifier()
