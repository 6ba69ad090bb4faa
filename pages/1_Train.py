"""Train: choose data, preset and main hyper-parameters; train in the background; watch it."""

import streamlit as st

from ui import forms, page, state, store, training, uploads
from ui.figures import tables
from ui.panels import training as training_panel

page.setup_page("Train", ":material/model_training:")
# Every field keeps its value when you leave the page and come back (ui/forms.py).
choices = store.training_choices(state.TRAIN_DEFAULT_PRESET)
world = store.synthetic_world(forms.remembered("train.preset", choices["default"])) or store.synthetic_world()


def _prefill_world() -> None:
    """A preset sized for its own synthetic world fills that world in (e.g. tiny: 1,500 users)."""
    own = store.synthetic_world(st.session_state.get("train.preset"))
    if own:
        forms.put("train.kind", "Synthetic world")
        forms.put("train.users", own["users"])
        forms.put("train.overlap", own["overlap"])
        forms.put("train.world_seed", own["seed"])


st.title("Train a run")
st.caption(
    "Three phases (paper Algorithm 1): pre-train the autoencoders, adversarial training "
    "against the domain critic, fine-tune CDSRec. Training runs in the background: other "
    "pages stay usable, and the finished checkpoint is selected for this session. One "
    "training at a time per server."
)

data_col, params_col = st.columns(2, gap="large")

with data_col:
    st.subheader("1 · Data", divider="gray")
    kind = st.radio(
        "Source",
        ["Synthetic world", "Two uploaded CSVs", "Server-side source"],
        horizontal=True,
        key=forms.kept("train.kind", "Synthetic world"),
    )
    spec = None
    if kind == "Synthetic world":
        c1, c2, c3 = st.columns(3)
        users = c1.number_input(
            "Users",
            min_value=1000,
            max_value=2_000_000,
            step=500,
            key=forms.kept("train.users", world["users"]),
        )
        overlap = c2.slider(
            "Overlap",
            0.0,
            1.0,
            step=0.05,
            key=forms.kept("train.overlap", world["overlap"]),
            help="Share of users present in both domains.",
        )
        data_seed = c3.number_input(
            "World seed", 0, 1_000_000, key=forms.kept("train.world_seed", world["seed"])
        )
        spec = store.synthetic_spec(users, overlap, data_seed)
    elif kind == "Two uploaded CSVs":
        st.caption(
            "Generic format: columns `user_id,item_id,timestamp`, optional `rating,title`. "
            "The file names become the domain names."
        )
        c1, c2 = st.columns(2)
        file_a = c1.file_uploader("Domain A (.csv, .tsv, .txt, .parquet)", key="train.csv_a")
        file_b = c2.file_uploader("Domain B (.csv, .tsv, .txt, .parquet)", key="train.csv_b")
        spec = page.attempt(uploads.uploaded_tables_spec, file_a, file_b)
    else:
        spec = training_panel.server_source_input()
    if spec:
        st.code(spec, language=None)
    if st.button("Check data", key="train.check", icon=":material/fact_check:", disabled=not spec):
        stats = page.attempt(store.check_source, spec)
        if stats:
            st.dataframe(tables.stats_frame(stats), width="stretch", column_config=page.stats_column_config())

with params_col:
    st.subheader("2 · Preset and hyper-parameters", divider="gray")
    preset = st.radio(
        "Preset",
        list(choices["presets"]),
        horizontal=True,
        key=forms.kept("train.preset", choices["default"]),
        captions=list(choices["presets"].values()),
        on_change=_prefill_world,
    )
    # one widget per row of the core's field table (config.FORM_FIELDS), defaults from the preset
    defaults = store.preset_values(preset)
    fields = {}
    table = store.form_fields()
    for first in range(0, len(table), 3):
        for column, field in zip(st.columns(3), table[first : first + 3]):
            fields[field.name] = forms.field_widget(
                column, field, defaults[field.name], f"train.{field.name}.{preset}"
            )
    advanced = st.text_input(
        "Advanced: any other setting as key=value",
        key=forms.kept(f"train.advanced.{preset}", ""),
        placeholder="e.g. w_decor=0.2 n_layers=2 bpr_negatives=20",
        help="Every setting of `recguru train` (the CLI's overrides), separated by spaces or "
        "commas; checked before the job starts. Wins over the fields above.",
    )
    c1, c2 = st.columns(2)
    seed = c1.number_input("Training seed", 0, 1_000_000, key=forms.kept("train.seed", 0))
    device = c2.selectbox("Device", choices["devices"], key=forms.kept("train.device", choices["devices"][0]))

st.subheader("3 · Run", divider="gray")
job = training.current_job()
busy = job is not None and job.active
if busy and job.owner != state.session_token():
    st.info(
        "A training is already running on this server (started in another tab or by another "
        "user); start yours when it has finished. Its progress is below.",
        icon=":material/hourglass_top:",
    )
start = st.button(
    "Start training",
    type="primary",
    icon=":material/play_arrow:",
    disabled=busy or not spec,
    key="train.start",
)
overrides = None
if start and page.attempt(store.check_source, spec) is not None:
    overrides = page.attempt(store.check_train_settings, preset, fields, advanced)
if overrides is not None:
    if (
        page.attempt(
            training.start_training,
            spec,
            preset=preset,
            overrides=overrides,
            seed=seed,
            device=device,
            owner=state.session_token(),
        )
        is not None
    ):
        st.rerun()

training_panel.training_monitor()
