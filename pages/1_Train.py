"""Train: choose data, preset and main hyper-parameters; train in the background; watch it."""

import streamlit as st

from ui import forms, page, state, store, training, uploads
from ui.figures import tables
from ui.panels import training as training_panel

page.setup_page("Train", ":material/model_training:")
# Every field keeps its value when you leave the page and come back (ui/forms.py).
choices = store.training_choices(state.TRAIN_DEFAULT_PRESET)
world = store.synthetic_world(forms.remembered("train.preset", choices["default"])) or \
    store.synthetic_world()


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
            st.dataframe(
                tables.stats_frame(stats), width="stretch", column_config=page.stats_column_config()
            )

with params_col:
    st.subheader("2 · Preset and hyper-parameters", divider="gray")
    preset = st.radio(
        "Preset",
        list(choices["presets"]),
        horizontal=True,
        key=forms.kept("train.preset", choices["default"]),
        captions=list(choices["presets"].values()),
        on_change=_prefill_world,
        help="tiny: a smaller world and model, for a first look at every page in about a "
        "minute. quick: the paper's model on the default world. paper: the paper's schedule.",
    )
    defaults = store.preset_values(preset)
    c1, c2, c3 = st.columns(3)
    pretrain = c1.number_input(
        "Pre-train epochs",
        0,
        1000,
        key=forms.kept(f"train.pretrain.{preset}", int(defaults["pretrain_epochs"])),
    )
    adv_steps = c2.number_input(
        "Adversarial steps",
        0,
        100_000,
        key=forms.kept(f"train.adv.{preset}", int(defaults["adv_steps"])),
    )
    finetune = c3.number_input(
        "Fine-tune epochs",
        0,
        1000,
        key=forms.kept(f"train.ft.{preset}", int(defaults["finetune_epochs"])),
    )
    c1, c2, c3 = st.columns(3)
    gp_weight = c1.number_input(
        "Gradient-penalty weight",
        0.0,
        1000.0,
        step=0.5,
        key=forms.kept(f"train.gp.{preset}", float(defaults["gp_weight"])),
    )
    w_l2 = c2.number_input(
        "l2 weight",
        0.0,
        1000.0,
        step=0.1,
        key=forms.kept(f"train.l2.{preset}", float(defaults["w_l2"])),
    )
    critic = c3.selectbox(
        "Critic",
        choices["critics"],
        key=forms.kept(f"train.critic.{preset}", defaults["critic"]),
    )
    c1, c2 = st.columns(2)
    seed = c1.number_input("Training seed", 0, 1_000_000, key=forms.kept("train.seed", 0))
    device = c2.selectbox(
        "Device", choices["devices"], key=forms.kept("train.device", choices["devices"][0])
    )

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
if start and page.attempt(store.check_source, spec) is not None:
    overrides = {
        "pretrain_epochs": pretrain,
        "adv_steps": adv_steps,
        "finetune_epochs": finetune,
        "gp_weight": gp_weight,
        "w_l2": w_l2,
        "critic": critic,
    }
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
