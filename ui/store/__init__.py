"""The ONLY package of the app that imports recguru_core: loaded runs and every cache, in one
module per page family (runs, sources, curves, alignment, compare, recommend, prefetch); pages
call them as `store.x`.

Every cache is keyed by one `RunRef` (real path + modification time of the checkpoint), so a
retrained or re-uploaded file is never served stale and two links to one file share entries.
`st.cache_resource` holds loaded runs (models); `st.cache_data` holds frames, figures,
projections, metrics, recommendations and explanations. recguru_core (and through it torch)
is imported lazily, so importing the app costs no torch start-up; umap only when a user asks
for a fresh projection. Slow values are computed by `jobs` workers, never by the page.
"""

from __future__ import annotations

from .alignment import (  # noqa: F401  (the store's interface: pages call store.x)
    alignment_chart,
    alignment_data,
    compute_projection,
    forget_projection,
    health_rows,
    projection_for,
    start_alignment_metrics,
    start_group_evaluation,
)
from .compare import (  # noqa: F401  (the store's interface: pages call store.x)
    comparison_tables,
    start_comparison_layouts,
)
from .curves import (  # noqa: F401  (the store's interface: pages call store.x)
    history_csv,
    run_history_frame,
    training_curves_figure,
)
from .prefetch import (  # noqa: F401  (the store's interface: pages call store.x)
    prefetch,
)
from .recommend import (  # noqa: F401  (the store's interface: pages call store.x)
    clamp_k,
    default_user,
    find_user,
    random_user,
    recommend,
    start_explanation,
    unseen_items,
)
from .runs import (  # noqa: F401  (the store's interface: pages call store.x)
    RunRef,
    atomic_write,
    check_loadable,
    checkpoint_error,
    data_error,
    load_run,
    read_checkpoint_file,
    run_ref,
    run_status,
    snapshot_names,
    snapshot_steps,
    spinner,
    user_error,
)
from .sources import (  # noqa: F401  (the store's interface: pages call store.x)
    check_source,
    check_train_settings,
    default_data_stats,
    form_fields,
    preset_values,
    source_paths,
    synthetic_spec,
    synthetic_world,
    training_choices,
)
