--
-- PostgreSQL database dump
--

\restrict hB6Dqn6hBJBYP9D1uSLg4t4bddGn72pgBnw09Cszfs2xVV3xtdqyFWHSuL6uCa0

-- Dumped from database version 18.6
-- Dumped by pg_dump version 18.6

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET transaction_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: studydirection; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.studydirection AS ENUM (
    'NOT_SET',
    'MINIMIZE',
    'MAXIMIZE'
);


--
-- Name: trialintermediatevaluetype; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.trialintermediatevaluetype AS ENUM (
    'FINITE',
    'INF_POS',
    'INF_NEG',
    'NAN'
);


--
-- Name: trialstate; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.trialstate AS ENUM (
    'RUNNING',
    'COMPLETE',
    'PRUNED',
    'FAIL',
    'WAITING'
);


--
-- Name: trialvaluetype; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.trialvaluetype AS ENUM (
    'FINITE',
    'INF_POS',
    'INF_NEG'
);


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alembic_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);


--
-- Name: benchmark_round; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.benchmark_round (
    scenario character varying NOT NULL,
    concurrency integer NOT NULL,
    ttft_mean double precision NOT NULL,
    ttft_p50 double precision NOT NULL,
    ttft_p90 double precision NOT NULL,
    ttft_p99 double precision NOT NULL,
    tpot_mean double precision NOT NULL,
    tpot_p50 double precision NOT NULL,
    tpot_p90 double precision NOT NULL,
    tpot_p99 double precision NOT NULL,
    e2e_latency_mean double precision NOT NULL,
    e2e_latency_p50 double precision NOT NULL,
    e2e_latency_p90 double precision NOT NULL,
    e2e_latency_p99 double precision NOT NULL,
    input_throughput double precision NOT NULL,
    output_throughput double precision NOT NULL,
    total_throughput double precision NOT NULL,
    requests_per_second double precision NOT NULL,
    error_rate double precision NOT NULL,
    num_completed integer NOT NULL,
    num_failed integer NOT NULL,
    duration double precision NOT NULL,
    source_file character varying NOT NULL,
    id integer NOT NULL,
    trial_id integer NOT NULL
);


--
-- Name: benchmark_round_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.benchmark_round_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: benchmark_round_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.benchmark_round_id_seq OWNED BY public.benchmark_round.id;


--
-- Name: studies; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.studies (
    study_id integer NOT NULL,
    study_name character varying(512) NOT NULL
);


--
-- Name: studies_study_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.studies_study_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: studies_study_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.studies_study_id_seq OWNED BY public.studies.study_id;


--
-- Name: study_directions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.study_directions (
    study_direction_id integer NOT NULL,
    direction public.studydirection NOT NULL,
    study_id integer NOT NULL,
    objective integer NOT NULL
);


--
-- Name: study_directions_study_direction_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.study_directions_study_direction_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: study_directions_study_direction_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.study_directions_study_direction_id_seq OWNED BY public.study_directions.study_direction_id;


--
-- Name: study_system_attributes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.study_system_attributes (
    study_system_attribute_id integer NOT NULL,
    study_id integer,
    key character varying(512),
    value_json text
);


--
-- Name: study_system_attributes_study_system_attribute_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.study_system_attributes_study_system_attribute_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: study_system_attributes_study_system_attribute_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.study_system_attributes_study_system_attribute_id_seq OWNED BY public.study_system_attributes.study_system_attribute_id;


--
-- Name: study_user_attributes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.study_user_attributes (
    study_user_attribute_id integer NOT NULL,
    study_id integer,
    key character varying(512),
    value_json text
);


--
-- Name: study_user_attributes_study_user_attribute_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.study_user_attributes_study_user_attribute_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: study_user_attributes_study_user_attribute_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.study_user_attributes_study_user_attribute_id_seq OWNED BY public.study_user_attributes.study_user_attribute_id;


--
-- Name: trial; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.trial (
    id integer NOT NULL,
    run_id character varying NOT NULL,
    number integer NOT NULL,
    params json NOT NULL,
    state character varying NOT NULL,
    phase character varying,
    feasible boolean,
    score double precision,
    objective_value double precision,
    penalty double precision,
    violations json NOT NULL,
    constraints json NOT NULL,
    error character varying,
    command json NOT NULL,
    deploy_seconds double precision,
    ready_seconds double precision,
    benchmark_seconds double precision,
    cleanup_seconds double precision,
    total_seconds double precision,
    log_path character varying,
    log_tail character varying,
    results_dir character varying,
    stopped_early character varying,
    saved_seconds double precision,
    confirms integer,
    objective_scores json,
    on_front boolean,
    owner character varying,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    engine_started_at timestamp with time zone,
    engine_stopped_at timestamp with time zone
);


--
-- Name: trial_heartbeats; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.trial_heartbeats (
    trial_heartbeat_id integer NOT NULL,
    trial_id integer NOT NULL,
    heartbeat timestamp without time zone NOT NULL
);


--
-- Name: trial_heartbeats_trial_heartbeat_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.trial_heartbeats_trial_heartbeat_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: trial_heartbeats_trial_heartbeat_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.trial_heartbeats_trial_heartbeat_id_seq OWNED BY public.trial_heartbeats.trial_heartbeat_id;


--
-- Name: trial_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.trial_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: trial_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.trial_id_seq OWNED BY public.trial.id;


--
-- Name: trial_intermediate_values; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.trial_intermediate_values (
    trial_intermediate_value_id integer NOT NULL,
    trial_id integer NOT NULL,
    step integer NOT NULL,
    intermediate_value double precision,
    intermediate_value_type public.trialintermediatevaluetype NOT NULL
);


--
-- Name: trial_intermediate_values_trial_intermediate_value_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.trial_intermediate_values_trial_intermediate_value_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: trial_intermediate_values_trial_intermediate_value_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.trial_intermediate_values_trial_intermediate_value_id_seq OWNED BY public.trial_intermediate_values.trial_intermediate_value_id;


--
-- Name: trial_params; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.trial_params (
    param_id integer NOT NULL,
    trial_id integer,
    param_name character varying(512),
    param_value double precision,
    distribution_json text
);


--
-- Name: trial_params_param_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.trial_params_param_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: trial_params_param_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.trial_params_param_id_seq OWNED BY public.trial_params.param_id;


--
-- Name: trial_system_attributes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.trial_system_attributes (
    trial_system_attribute_id integer NOT NULL,
    trial_id integer,
    key character varying(512),
    value_json text
);


--
-- Name: trial_system_attributes_trial_system_attribute_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.trial_system_attributes_trial_system_attribute_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: trial_system_attributes_trial_system_attribute_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.trial_system_attributes_trial_system_attribute_id_seq OWNED BY public.trial_system_attributes.trial_system_attribute_id;


--
-- Name: trial_user_attributes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.trial_user_attributes (
    trial_user_attribute_id integer NOT NULL,
    trial_id integer,
    key character varying(512),
    value_json text
);


--
-- Name: trial_user_attributes_trial_user_attribute_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.trial_user_attributes_trial_user_attribute_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: trial_user_attributes_trial_user_attribute_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.trial_user_attributes_trial_user_attribute_id_seq OWNED BY public.trial_user_attributes.trial_user_attribute_id;


--
-- Name: trial_values; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.trial_values (
    trial_value_id integer NOT NULL,
    trial_id integer NOT NULL,
    objective integer NOT NULL,
    value double precision,
    value_type public.trialvaluetype NOT NULL
);


--
-- Name: trial_values_trial_value_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.trial_values_trial_value_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: trial_values_trial_value_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.trial_values_trial_value_id_seq OWNED BY public.trial_values.trial_value_id;


--
-- Name: trials; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.trials (
    trial_id integer NOT NULL,
    number integer,
    study_id integer,
    state public.trialstate NOT NULL,
    datetime_start timestamp without time zone,
    datetime_complete timestamp without time zone
);


--
-- Name: trials_trial_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.trials_trial_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: trials_trial_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.trials_trial_id_seq OWNED BY public.trials.trial_id;


--
-- Name: tuning_run; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tuning_run (
    id character varying NOT NULL,
    name character varying NOT NULL,
    state character varying NOT NULL,
    engine character varying NOT NULL,
    model character varying NOT NULL,
    objective character varying NOT NULL,
    maximize boolean NOT NULL,
    spec json NOT NULL,
    message character varying,
    best_trial integer,
    kind character varying DEFAULT 'tune'::character varying NOT NULL,
    prefect_flow_run_id character varying,
    started_at timestamp with time zone,
    finished_at timestamp with time zone
);


--
-- Name: version_info; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.version_info (
    version_info_id integer NOT NULL,
    schema_version integer,
    library_version character varying(256),
    CONSTRAINT version_info_version_info_id_check CHECK ((version_info_id = 1))
);


--
-- Name: benchmark_round id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.benchmark_round ALTER COLUMN id SET DEFAULT nextval('public.benchmark_round_id_seq'::regclass);


--
-- Name: studies study_id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.studies ALTER COLUMN study_id SET DEFAULT nextval('public.studies_study_id_seq'::regclass);


--
-- Name: study_directions study_direction_id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_directions ALTER COLUMN study_direction_id SET DEFAULT nextval('public.study_directions_study_direction_id_seq'::regclass);


--
-- Name: study_system_attributes study_system_attribute_id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_system_attributes ALTER COLUMN study_system_attribute_id SET DEFAULT nextval('public.study_system_attributes_study_system_attribute_id_seq'::regclass);


--
-- Name: study_user_attributes study_user_attribute_id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_user_attributes ALTER COLUMN study_user_attribute_id SET DEFAULT nextval('public.study_user_attributes_study_user_attribute_id_seq'::regclass);


--
-- Name: trial id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial ALTER COLUMN id SET DEFAULT nextval('public.trial_id_seq'::regclass);


--
-- Name: trial_heartbeats trial_heartbeat_id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_heartbeats ALTER COLUMN trial_heartbeat_id SET DEFAULT nextval('public.trial_heartbeats_trial_heartbeat_id_seq'::regclass);


--
-- Name: trial_intermediate_values trial_intermediate_value_id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_intermediate_values ALTER COLUMN trial_intermediate_value_id SET DEFAULT nextval('public.trial_intermediate_values_trial_intermediate_value_id_seq'::regclass);


--
-- Name: trial_params param_id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_params ALTER COLUMN param_id SET DEFAULT nextval('public.trial_params_param_id_seq'::regclass);


--
-- Name: trial_system_attributes trial_system_attribute_id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_system_attributes ALTER COLUMN trial_system_attribute_id SET DEFAULT nextval('public.trial_system_attributes_trial_system_attribute_id_seq'::regclass);


--
-- Name: trial_user_attributes trial_user_attribute_id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_user_attributes ALTER COLUMN trial_user_attribute_id SET DEFAULT nextval('public.trial_user_attributes_trial_user_attribute_id_seq'::regclass);


--
-- Name: trial_values trial_value_id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_values ALTER COLUMN trial_value_id SET DEFAULT nextval('public.trial_values_trial_value_id_seq'::regclass);


--
-- Name: trials trial_id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trials ALTER COLUMN trial_id SET DEFAULT nextval('public.trials_trial_id_seq'::regclass);


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.alembic_version (version_num) FROM stdin;
v3.2.0.a
\.


--
-- Data for Name: benchmark_round; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.benchmark_round (scenario, concurrency, ttft_mean, ttft_p50, ttft_p90, ttft_p99, tpot_mean, tpot_p50, tpot_p90, tpot_p99, e2e_latency_mean, e2e_latency_p50, e2e_latency_p90, e2e_latency_p99, input_throughput, output_throughput, total_throughput, requests_per_second, error_rate, num_completed, num_failed, duration, source_file, id, trial_id) FROM stdin;
D(100,100)	1	0.05	0.05	0.1	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	50	50	100	1.5	0	20	0	12.5	D100_100_c1.json	1	1
D(100,100)	4	0.05	0.05	0.2	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	100	100	200	1.5	0	20	0	12.5	D100_100_c4.json	2	1
D(100,100)	1	0.05	0.05	0.15	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	90	90	180	1.5	0	20	0	12.5	D100_100_c1.json	3	2
D(100,100)	4	0.05	0.05	0.3	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	180	180	360	1.5	0	20	0	12.5	D100_100_c4.json	4	2
D(100,100)	1	0.05	0.05	0.45	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	110	110	220	1.5	0	20	0	12.5	D100_100_c1.json	5	3
D(100,100)	4	0.05	0.05	0.9	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	220	220	440	1.5	0	20	0	12.5	D100_100_c4.json	6	3
D(100,100)	1	0.05	0.05	0.15	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	88	88	176	1.5	0	20	0	12.5	D100_100_c1.json	7	6
D(100,100)	4	0.05	0.05	0.3	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	0.05	175	175	350	1.5	0	20	0	12.5	D100_100_c4.json	8	6
\.


--
-- Data for Name: studies; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.studies (study_id, study_name) FROM stdin;
1	servetune-85e657d87b75
\.


--
-- Data for Name: study_directions; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.study_directions (study_direction_id, direction, study_id, objective) FROM stdin;
1	MAXIMIZE	1	0
\.


--
-- Data for Name: study_system_attributes; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.study_system_attributes (study_system_attribute_id, study_id, key, value_json) FROM stdin;
\.


--
-- Data for Name: study_user_attributes; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.study_user_attributes (study_user_attribute_id, study_id, key, value_json) FROM stdin;
\.


--
-- Data for Name: trial; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.trial (id, run_id, number, params, state, phase, feasible, score, objective_value, penalty, violations, constraints, error, command, deploy_seconds, ready_seconds, benchmark_seconds, cleanup_seconds, total_seconds, log_path, log_tail, results_dir, stopped_early, saved_seconds, confirms, objective_scores, on_front, owner, started_at, finished_at, engine_started_at, engine_stopped_at) FROM stdin;
1	85e657d87b75	0	{"max-num-seqs": 2}	succeeded	\N	t	75	75	0	[]	[-0.6]	\N	["python", "-m", "vllm.entrypoints.openai.api_server", "--max-num-seqs", "2"]	1	30	40	2	73	\N	\N	\N	\N	\N	\N	[75.0]	\N	vm/4004	2026-12-01 11:33:19.600534+00	2026-12-01 11:33:19.608919+00	\N	\N
2	85e657d87b75	1	{"max-num-seqs": 4}	succeeded	\N	t	135	135	0	[]	[-0.4]	\N	["python", "-m", "vllm.entrypoints.openai.api_server", "--max-num-seqs", "4"]	1	30	40	2	73	\N	\N	\N	\N	\N	\N	[135.0]	\N	vm/4004	2026-12-01 11:33:19.678192+00	2026-12-01 11:33:19.681678+00	\N	\N
3	85e657d87b75	2	{"max-num-seqs": 8}	succeeded	\N	f	165	165	0	[{"slo": "ttft p90 <= 0.5s", "scenario": "D(100,100)", "concurrency": 4, "observed": 0.9, "limit": 0.5, "hard": true}]	[0.8]	\N	["python", "-m", "vllm.entrypoints.openai.api_server", "--max-num-seqs", "8"]	1	30	40	2	73	\N	\N	\N	\N	\N	\N	[165.0]	\N	vm/4004	2026-12-01 11:33:19.750274+00	2026-12-01 11:33:19.754311+00	\N	\N
4	85e657d87b75	3	{"max-num-seqs": 16}	failed	ready	\N	\N	\N	\N	[]	[]	DeployError: engine exited with code 1	[]	\N	\N	\N	\N	\N	\N	Traceback...\nOOM	\N	\N	\N	\N	null	\N	vm/4004	2026-12-01 11:33:19.817822+00	2026-12-01 11:33:19.825171+00	\N	\N
5	85e657d87b75	4	{"max-num-seqs": 32}	rejected	\N	\N	\N	\N	\N	[]	[]	rejected: too many GPUs	[]	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	null	\N	\N	2026-12-01 11:33:19.831161+00	2026-12-01 11:33:19.831161+00	\N	\N
6	1789164f9bd9	0	{"max-num-seqs": 4}	succeeded	\N	t	131.5	131.5	0	[]	[-0.4]	\N	[]	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	1	[131.5]	\N	vm/4004	2026-12-01 11:33:19.878121+00	2026-12-01 11:33:19.886513+00	\N	\N
7	6880d1c859e5	0	{"max-num-seqs": 2}	running	\N	\N	\N	\N	\N	[]	[]	\N	[]	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	\N	null	\N	vm/4004	2026-12-01 11:33:19.90904+00	\N	\N	\N
\.


--
-- Data for Name: trial_heartbeats; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.trial_heartbeats (trial_heartbeat_id, trial_id, heartbeat) FROM stdin;
\.


--
-- Data for Name: trial_intermediate_values; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.trial_intermediate_values (trial_intermediate_value_id, trial_id, step, intermediate_value, intermediate_value_type) FROM stdin;
\.


--
-- Data for Name: trial_params; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.trial_params (param_id, trial_id, param_name, param_value, distribution_json) FROM stdin;
1	1	max-num-seqs	0	{"name": "CategoricalDistribution", "attributes": {"choices": [2, 4, 8]}}
2	2	max-num-seqs	1	{"name": "CategoricalDistribution", "attributes": {"choices": [2, 4, 8]}}
3	3	max-num-seqs	2	{"name": "CategoricalDistribution", "attributes": {"choices": [2, 4, 8]}}
\.


--
-- Data for Name: trial_system_attributes; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.trial_system_attributes (trial_system_attribute_id, trial_id, key, value_json) FROM stdin;
1	1	fixed_params	{"max-num-seqs": 2}
2	2	fixed_params	{"max-num-seqs": 4}
3	3	fixed_params	{"max-num-seqs": 8}
4	1	constraints:0	-0.6
5	2	constraints:0	-0.4
6	3	constraints:0	0.8
\.


--
-- Data for Name: trial_user_attributes; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.trial_user_attributes (trial_user_attribute_id, trial_id, key, value_json) FROM stdin;
1	1	servetune_constraints	[-0.6]
2	2	servetune_constraints	[-0.4]
3	3	servetune_constraints	[0.8]
\.


--
-- Data for Name: trial_values; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.trial_values (trial_value_id, trial_id, objective, value, value_type) FROM stdin;
1	1	0	75	FINITE
2	2	0	135	FINITE
3	3	0	165	FINITE
\.


--
-- Data for Name: trials; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.trials (trial_id, number, study_id, state, datetime_start, datetime_complete) FROM stdin;
1	0	1	COMPLETE	2026-12-01 11:33:19.568827	2026-12-01 11:33:19.638867
2	1	1	COMPLETE	2026-12-01 11:33:19.662815	2026-12-01 11:33:19.705333
3	2	1	COMPLETE	2026-12-01 11:33:19.728099	2026-12-01 11:33:19.781784
\.


--
-- Data for Name: tuning_run; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.tuning_run (id, name, state, engine, model, objective, maximize, spec, message, best_trial, kind, prefect_flow_run_id, started_at, finished_at) FROM stdin;
85e657d87b75	legacy-run	completed	vllm	tiny	output_throughput (tok/s)	t	{"name": "legacy-run", "description": "", "model": {"path": "/models/tiny", "tokenizer": null, "served_name": null}, "engine": {"name": "vllm", "venv": null, "python": null, "args": {}, "env": {}, "pass_env": []}, "deployer": {"kind": "local", "host": "127.0.0.1", "stop_grace": 15.0}, "search_space": {"max-num-seqs": {"values": [2, 4, 8], "low": null, "high": null, "step": null, "log": false}}, "strategy": {"name": "grid", "max_trials": null, "seed": null, "parallelism": 1, "pruner": "none"}, "hardware": {"pool": null, "gpus_per_node": null}, "confirmation": {"top": 3, "repeats": 1}, "benchmark": {"task": "text-to-text", "traffic_scenarios": ["D(100,100)"], "concurrency": [1, 4], "max_time_per_run": 1, "max_requests_per_run": 20, "extra_request_params": {}}, "objective": {"metric": "output_throughput", "statistic": "p90", "aggregate": "mean"}, "objectives": [], "pick": {"best": null, "limits": {}}, "slos": [{"metric": "ttft", "statistic": "p90", "max": 0.5, "hard": true, "penalty": 1.0}], "timeouts": {"deploy": 120.0, "ready": 600.0, "benchmark": 1800.0, "trial": 3600.0}, "regression": {"threshold": 0.05, "baseline": "best", "window": 5}}	best: trial 1 with output_throughput (tok/s) 180	1	tune	\N	2026-12-01 11:33:19.07398+00	2026-12-01 11:33:19.841131+00
1789164f9bd9	legacy-run	completed	vllm	tiny	output_throughput (tok/s)	t	{"name": "legacy-run", "description": "", "model": {"path": "/models/tiny", "tokenizer": null, "served_name": null}, "engine": {"name": "vllm", "venv": null, "python": null, "args": {}, "env": {}, "pass_env": []}, "deployer": {"kind": "local", "host": "127.0.0.1", "stop_grace": 15.0}, "search_space": {"max-num-seqs": {"values": [2, 4, 8], "low": null, "high": null, "step": null, "log": false}}, "strategy": {"name": "grid", "max_trials": null, "seed": null, "parallelism": 1, "pruner": "none"}, "hardware": {"pool": null, "gpus_per_node": null}, "confirmation": {"top": 3, "repeats": 1}, "benchmark": {"task": "text-to-text", "traffic_scenarios": ["D(100,100)"], "concurrency": [1, 4], "max_time_per_run": 1, "max_requests_per_run": 20, "extra_request_params": {}}, "objective": {"metric": "output_throughput", "statistic": "p90", "aggregate": "mean"}, "objectives": [], "pick": {"best": null, "limits": {}}, "slos": [{"metric": "ttft", "statistic": "p90", "max": 0.5, "hard": true, "penalty": 1.0}], "timeouts": {"deploy": 120.0, "ready": 600.0, "benchmark": 1800.0, "trial": 3600.0}, "regression": {"threshold": 0.05, "baseline": "best", "window": 5}}	no regression	0	recheck	\N	2026-12-01 11:33:19.850923+00	2026-12-01 11:33:19.898276+00
6880d1c859e5	legacy-crashed	running	vllm	tiny	output_throughput (tok/s)	t	{"name": "legacy-crashed", "description": "", "model": {"path": "/models/tiny", "tokenizer": null, "served_name": null}, "engine": {"name": "vllm", "venv": null, "python": null, "args": {}, "env": {}, "pass_env": []}, "deployer": {"kind": "local", "host": "127.0.0.1", "stop_grace": 15.0}, "search_space": {"max-num-seqs": {"values": [2, 4, 8], "low": null, "high": null, "step": null, "log": false}}, "strategy": {"name": "grid", "max_trials": null, "seed": null, "parallelism": 1, "pruner": "none"}, "hardware": {"pool": null, "gpus_per_node": null}, "confirmation": {"top": 3, "repeats": 1}, "benchmark": {"task": "text-to-text", "traffic_scenarios": ["D(100,100)"], "concurrency": [1, 4], "max_time_per_run": 1, "max_requests_per_run": 20, "extra_request_params": {}}, "objective": {"metric": "output_throughput", "statistic": "p90", "aggregate": "mean"}, "objectives": [], "pick": {"best": null, "limits": {}}, "slos": [{"metric": "ttft", "statistic": "p90", "max": 0.5, "hard": true, "penalty": 1.0}], "timeouts": {"deploy": 120.0, "ready": 600.0, "benchmark": 1800.0, "trial": 3600.0}, "regression": {"threshold": 0.05, "baseline": "best", "window": 5}}	\N	\N	tune	\N	2026-12-01 11:33:19.900675+00	\N
\.


--
-- Data for Name: version_info; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.version_info (version_info_id, schema_version, library_version) FROM stdin;
1	12	5.0.0
\.


--
-- Name: benchmark_round_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.benchmark_round_id_seq', 8, true);


--
-- Name: studies_study_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.studies_study_id_seq', 1, true);


--
-- Name: study_directions_study_direction_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.study_directions_study_direction_id_seq', 1, true);


--
-- Name: study_system_attributes_study_system_attribute_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.study_system_attributes_study_system_attribute_id_seq', 1, false);


--
-- Name: study_user_attributes_study_user_attribute_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.study_user_attributes_study_user_attribute_id_seq', 1, false);


--
-- Name: trial_heartbeats_trial_heartbeat_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.trial_heartbeats_trial_heartbeat_id_seq', 1, false);


--
-- Name: trial_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.trial_id_seq', 7, true);


--
-- Name: trial_intermediate_values_trial_intermediate_value_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.trial_intermediate_values_trial_intermediate_value_id_seq', 1, false);


--
-- Name: trial_params_param_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.trial_params_param_id_seq', 3, true);


--
-- Name: trial_system_attributes_trial_system_attribute_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.trial_system_attributes_trial_system_attribute_id_seq', 6, true);


--
-- Name: trial_user_attributes_trial_user_attribute_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.trial_user_attributes_trial_user_attribute_id_seq', 3, true);


--
-- Name: trial_values_trial_value_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.trial_values_trial_value_id_seq', 3, true);


--
-- Name: trials_trial_id_seq; Type: SEQUENCE SET; Schema: public; Owner: -
--

SELECT pg_catalog.setval('public.trials_trial_id_seq', 3, true);


--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: benchmark_round benchmark_round_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.benchmark_round
    ADD CONSTRAINT benchmark_round_pkey PRIMARY KEY (id);


--
-- Name: studies studies_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.studies
    ADD CONSTRAINT studies_pkey PRIMARY KEY (study_id);


--
-- Name: study_directions study_directions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_directions
    ADD CONSTRAINT study_directions_pkey PRIMARY KEY (study_direction_id);


--
-- Name: study_directions study_directions_study_id_objective_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_directions
    ADD CONSTRAINT study_directions_study_id_objective_key UNIQUE (study_id, objective);


--
-- Name: study_system_attributes study_system_attributes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_system_attributes
    ADD CONSTRAINT study_system_attributes_pkey PRIMARY KEY (study_system_attribute_id);


--
-- Name: study_system_attributes study_system_attributes_study_id_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_system_attributes
    ADD CONSTRAINT study_system_attributes_study_id_key_key UNIQUE (study_id, key);


--
-- Name: study_user_attributes study_user_attributes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_user_attributes
    ADD CONSTRAINT study_user_attributes_pkey PRIMARY KEY (study_user_attribute_id);


--
-- Name: study_user_attributes study_user_attributes_study_id_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_user_attributes
    ADD CONSTRAINT study_user_attributes_study_id_key_key UNIQUE (study_id, key);


--
-- Name: trial_heartbeats trial_heartbeats_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_heartbeats
    ADD CONSTRAINT trial_heartbeats_pkey PRIMARY KEY (trial_heartbeat_id);


--
-- Name: trial_heartbeats trial_heartbeats_trial_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_heartbeats
    ADD CONSTRAINT trial_heartbeats_trial_id_key UNIQUE (trial_id);


--
-- Name: trial_intermediate_values trial_intermediate_values_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_intermediate_values
    ADD CONSTRAINT trial_intermediate_values_pkey PRIMARY KEY (trial_intermediate_value_id);


--
-- Name: trial_intermediate_values trial_intermediate_values_trial_id_step_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_intermediate_values
    ADD CONSTRAINT trial_intermediate_values_trial_id_step_key UNIQUE (trial_id, step);


--
-- Name: trial_params trial_params_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_params
    ADD CONSTRAINT trial_params_pkey PRIMARY KEY (param_id);


--
-- Name: trial_params trial_params_trial_id_param_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_params
    ADD CONSTRAINT trial_params_trial_id_param_name_key UNIQUE (trial_id, param_name);


--
-- Name: trial trial_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial
    ADD CONSTRAINT trial_pkey PRIMARY KEY (id);


--
-- Name: trial trial_run_id_number_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial
    ADD CONSTRAINT trial_run_id_number_key UNIQUE (run_id, number);


--
-- Name: trial_system_attributes trial_system_attributes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_system_attributes
    ADD CONSTRAINT trial_system_attributes_pkey PRIMARY KEY (trial_system_attribute_id);


--
-- Name: trial_system_attributes trial_system_attributes_trial_id_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_system_attributes
    ADD CONSTRAINT trial_system_attributes_trial_id_key_key UNIQUE (trial_id, key);


--
-- Name: trial_user_attributes trial_user_attributes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_user_attributes
    ADD CONSTRAINT trial_user_attributes_pkey PRIMARY KEY (trial_user_attribute_id);


--
-- Name: trial_user_attributes trial_user_attributes_trial_id_key_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_user_attributes
    ADD CONSTRAINT trial_user_attributes_trial_id_key_key UNIQUE (trial_id, key);


--
-- Name: trial_values trial_values_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_values
    ADD CONSTRAINT trial_values_pkey PRIMARY KEY (trial_value_id);


--
-- Name: trial_values trial_values_trial_id_objective_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_values
    ADD CONSTRAINT trial_values_trial_id_objective_key UNIQUE (trial_id, objective);


--
-- Name: trials trials_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trials
    ADD CONSTRAINT trials_pkey PRIMARY KEY (trial_id);


--
-- Name: tuning_run tuning_run_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tuning_run
    ADD CONSTRAINT tuning_run_pkey PRIMARY KEY (id);


--
-- Name: version_info version_info_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.version_info
    ADD CONSTRAINT version_info_pkey PRIMARY KEY (version_info_id);


--
-- Name: ix_benchmark_round_trial_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_benchmark_round_trial_id ON public.benchmark_round USING btree (trial_id);


--
-- Name: ix_studies_study_name; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX ix_studies_study_name ON public.studies USING btree (study_name);


--
-- Name: ix_trial_run_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_trial_run_id ON public.trial USING btree (run_id);


--
-- Name: ix_trials_study_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_trials_study_id ON public.trials USING btree (study_id);


--
-- Name: ix_tuning_run_name; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tuning_run_name ON public.tuning_run USING btree (name);


--
-- Name: benchmark_round benchmark_round_trial_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.benchmark_round
    ADD CONSTRAINT benchmark_round_trial_id_fkey FOREIGN KEY (trial_id) REFERENCES public.trial(id);


--
-- Name: study_directions study_directions_study_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_directions
    ADD CONSTRAINT study_directions_study_id_fkey FOREIGN KEY (study_id) REFERENCES public.studies(study_id);


--
-- Name: study_system_attributes study_system_attributes_study_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_system_attributes
    ADD CONSTRAINT study_system_attributes_study_id_fkey FOREIGN KEY (study_id) REFERENCES public.studies(study_id);


--
-- Name: study_user_attributes study_user_attributes_study_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.study_user_attributes
    ADD CONSTRAINT study_user_attributes_study_id_fkey FOREIGN KEY (study_id) REFERENCES public.studies(study_id);


--
-- Name: trial_heartbeats trial_heartbeats_trial_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_heartbeats
    ADD CONSTRAINT trial_heartbeats_trial_id_fkey FOREIGN KEY (trial_id) REFERENCES public.trials(trial_id);


--
-- Name: trial_intermediate_values trial_intermediate_values_trial_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_intermediate_values
    ADD CONSTRAINT trial_intermediate_values_trial_id_fkey FOREIGN KEY (trial_id) REFERENCES public.trials(trial_id);


--
-- Name: trial_params trial_params_trial_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_params
    ADD CONSTRAINT trial_params_trial_id_fkey FOREIGN KEY (trial_id) REFERENCES public.trials(trial_id);


--
-- Name: trial trial_run_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial
    ADD CONSTRAINT trial_run_id_fkey FOREIGN KEY (run_id) REFERENCES public.tuning_run(id);


--
-- Name: trial_system_attributes trial_system_attributes_trial_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_system_attributes
    ADD CONSTRAINT trial_system_attributes_trial_id_fkey FOREIGN KEY (trial_id) REFERENCES public.trials(trial_id);


--
-- Name: trial_user_attributes trial_user_attributes_trial_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_user_attributes
    ADD CONSTRAINT trial_user_attributes_trial_id_fkey FOREIGN KEY (trial_id) REFERENCES public.trials(trial_id);


--
-- Name: trial_values trial_values_trial_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trial_values
    ADD CONSTRAINT trial_values_trial_id_fkey FOREIGN KEY (trial_id) REFERENCES public.trials(trial_id);


--
-- Name: trials trials_study_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.trials
    ADD CONSTRAINT trials_study_id_fkey FOREIGN KEY (study_id) REFERENCES public.studies(study_id);


--
-- PostgreSQL database dump complete
--

\unrestrict hB6Dqn6hBJBYP9D1uSLg4t4bddGn72pgBnw09Cszfs2xVV3xtdqyFWHSuL6uCa0

