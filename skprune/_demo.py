"""The main job: pruning on data bundled with scikit-learn, as a table and plots.

Run it with ``python -m skprune [--output DIR]``.
"""

import argparse
import pickle
import time
from pathlib import Path

import numpy as np
from sklearn.base import is_classifier
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

DESCRIPTION = """\
Prune decision trees (breast cancer, diabetes) and a neural network (digits)
on data bundled with scikit-learn, print tables of unpruned against pruned
models and write PNG plots to a folder.

Scores are on a held-out 25% test split: accuracy for the classifiers, R2
for the diabetes regressor. A network's sparsity counts the hidden-layer
weights, the ones that are pruned; its compression counts every weight."""

SEED = 0


def format_table(rows, columns):
    """Format ``rows`` (a list of dicts) as a fixed-width text table."""
    cells = [[_format_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row[c], (int, float)) for row in rows) for c in columns]

    def align(values):
        return "  ".join(
            v.rjust(w) if is_number else v.ljust(w)
            for v, w, is_number in zip(values, widths, numeric)
        )

    lines = [align(columns), "  ".join("-" * w for w in widths)]
    lines += [align(r) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _format_cell(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _timed_fit(estimator, X, y):
    start = time.perf_counter()
    estimator.fit(X, y)
    return estimator, time.perf_counter() - start


def tree_rows(name, X, y, estimators):
    """Fit each estimator on a 75/25 split and describe the pruned trees."""
    stratify = y if name == "breast_cancer" else None
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED, stratify=stratify
    )
    rows, fitted = [], []
    for label, estimator in estimators:
        estimator, seconds = _timed_fit(estimator, X_train, y_train)
        rows.append(
            {
                "data": name,
                "model": label,
                "ccp_alpha": float(getattr(
                    estimator, "ccp_alpha_",
                    estimator.get_params().get("ccp_alpha", 0.0),
                )),
                "leaves": int(estimator.get_n_leaves()),
                "metric": "accuracy" if is_classifier(estimator) else "R2",
                "test score": float(estimator.score(X_test, y_test)),
                "fit s": round(seconds, 3),
            }
        )
        fitted.append(estimator)
    return rows, fitted


def run_trees(output):
    """The tree part: unpruned trees against trees pruned by cross-validation."""
    from .model_selection import PruningCurveDisplay
    from .tree import PrunedTreeClassifierCV, PrunedTreeRegressorCV

    cancer = load_breast_cancer()
    X, y = cancer.data, cancer.target
    classifier_rows, classifiers = tree_rows(
        "breast_cancer",
        X,
        y,
        [
            ("unpruned tree", DecisionTreeClassifier(random_state=SEED)),
            ("CV, impurity, 1-SE",
             PrunedTreeClassifierCV(random_state=SEED, return_train_score=True)),
            ("CV, impurity, best",
             PrunedTreeClassifierCV(random_state=SEED, selection="best")),
            ("CV, misclassification, 1-SE",
             PrunedTreeClassifierCV(random_state=SEED, risk="misclassification")),
        ],
    )
    X, y = load_diabetes(return_X_y=True)
    regressor_rows, regressors = tree_rows(
        "diabetes",
        X,
        y,
        [
            ("unpruned tree", DecisionTreeRegressor(random_state=SEED)),
            ("CV, impurity, 1-SE",
             PrunedTreeRegressorCV(random_state=SEED, return_train_score=True)),
            ("CV, impurity, best",
             PrunedTreeRegressorCV(random_state=SEED, selection="best")),
        ],
    )
    plots = [
        _save_curve(
            PruningCurveDisplay, classifiers[1],
            output / "tree_pruning_curve_breast_cancer.png", "Accuracy",
        ),
        _save_curve(
            PruningCurveDisplay, regressors[1],
            output / "tree_pruning_curve_diabetes.png", "R2 score",
        ),
        _save_tree(
            classifiers[1], output / "tree_pruned_breast_cancer.png",
            feature_names=list(cancer.feature_names),
            class_names=list(cancer.target_names),
        ),
    ]
    return classifier_rows + regressor_rows, plots


def _save_curve(display_class, cv_estimator, path, score_name):
    import matplotlib.pyplot as plt

    from matplotlib.ticker import MaxNLocator, NullFormatter

    display = display_class.from_cv_estimator(cv_estimator, score_name=score_name)
    display.ax_.set_title(f"Pruning curve, {path.stem.split('_', 3)[-1]}")
    if display.ax_.get_xscale() in ("log", "symlog"):
        # one label per decade, slanted, so that neighbouring labels never overlap
        display.ax_.xaxis.set_minor_formatter(NullFormatter())
        display.ax_.tick_params(axis="x", labelrotation=30)
    if display.ax_complexity_ is not None:
        display.ax_complexity_.yaxis.set_major_locator(MaxNLocator(integer=True))
    display.figure_.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(display.figure_)
    return path


def _save_tree(estimator, path, feature_names, class_names):
    import matplotlib.pyplot as plt
    from sklearn.tree import plot_tree

    figure, ax = plt.subplots(figsize=(12, 6))
    plot_tree(
        estimator, ax=ax, filled=True, fontsize=7, impurity=False,
        feature_names=feature_names, class_names=class_names,
    )
    ax.set_title(f"Tree pruned at ccp_alpha = {estimator.ccp_alpha_:.3g}")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


MLP_SPARSITIES = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98)


def _mlp_row(label, model, seconds, X_test, y_test):
    return {
        "data": "digits",
        "model": label,
        "hidden sparsity": float(model.sparsity_),
        "nonzero weights": int(model.n_nonzero_),
        "overall sparsity": 1.0 - 1.0 / model.compression_ratio_,
        "compression": float(model.compression_ratio_),
        "pickle KB": round(len(pickle.dumps(model)) / 1024, 1),
        "test accuracy": float(model.score(X_test, y_test)),
        "fit s": round(seconds, 3),
    }


def run_mlp(output):
    """The neural part: gradual magnitude pruning on digits, and the CV choice."""
    from sklearn.preprocessing import StandardScaler

    from .model_selection import PruningCurveDisplay
    from .neural import PrunedMLPClassifier, PrunedMLPClassifierCV

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=SEED, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    params = {"hidden_layer_sizes": (128,), "max_iter": 400, "random_state": SEED}
    rows = []
    for sparsity in MLP_SPARSITIES:
        model, seconds = _timed_fit(
            PrunedMLPClassifier(**params, sparsity=sparsity), X_train, y_train
        )
        label = "dense MLP" if sparsity == 0 else "gradual magnitude"
        rows.append(_mlp_row(label, model, seconds, X_test, y_test))
    cv_model, seconds = _timed_fit(
        PrunedMLPClassifierCV(
            **params, sparsities=MLP_SPARSITIES, cv=3, return_train_score=True
        ),
        X_train,
        y_train,
    )
    rows.append(_mlp_row("CV on the path, 1-SE", cv_model, seconds, X_test, y_test))
    path = _save_accuracy_vs_sparsity(
        rows[:-1], cv_model, len(y_test), output / "mlp_accuracy_vs_sparsity_digits.png"
    )
    curve = _save_curve(
        PruningCurveDisplay,
        cv_model,
        output / "mlp_pruning_curve_digits.png",
        "Accuracy",
    )
    return rows, [path, curve]


def _save_accuracy_vs_sparsity(rows, cv_model, n_test, path):
    """Test accuracy of each network, the CV accuracy over folds, the dense baseline."""
    import matplotlib.pyplot as plt

    results = cv_model.cv_results_
    folds = np.column_stack(
        [results[f"split{k}_test_score"] for k in range(cv_model.n_splits_)]
    )
    sparsity = np.array([r["hidden sparsity"] for r in rows])
    figure, ax = plt.subplots()
    ax.errorbar(
        results["param_sparsity"],
        folds.mean(axis=1),
        yerr=folds.std(axis=1),
        marker="s",
        capsize=3,
        label=f"cross-validation, mean and std over {folds.shape[1]} folds",
    )
    test_accuracy = [r["test accuracy"] for r in rows]
    ax.plot(sparsity, test_accuracy, marker="o", label="held-out test set")
    dense = rows[0]["test accuracy"]
    ax.axhline(
        dense, color="k", linestyle="--", linewidth=1, label="dense network, test set"
    )
    ax.axhspan(
        dense - 1 / n_test, dense + 1 / n_test, color="0.85",
        label=f"one test sample either side (1/{n_test})",
    )
    ax.set_xlabel("hidden sparsity (fraction of hidden-layer weights removed)")
    ax.set_ylabel("accuracy")
    ax.set_title("Pruned MLP (128 hidden units), digits")
    ax.legend(fontsize="small", loc="lower left")
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def main(argv=None):
    """Run the demonstration and return an exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m skprune",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--output", default="skprune_output", help="folder for the PNG plots"
    )
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)

    rows, plots = run_trees(output)
    print("Decision trees: minimal cost-complexity pruning (75/25 split, seed 0)")
    print(
        "test score: accuracy for breast_cancer, R2 for diabetes, "
        "on the 25% test split\n"
    )
    columns = ["data", "model", "ccp_alpha", "leaves", "metric", "test score", "fit s"]
    print(format_table(rows, columns))
    mlp_rows, mlp_plots = run_mlp(output)
    plots += mlp_plots
    print("\nNeural network: train, prune gradually by magnitude, fine-tune (seed 0)")
    print(
        "hidden sparsity: fraction of the hidden-layer weights removed (the output "
        "layer is not pruned);\noverall sparsity and compression (all weights over "
        "nonzero ones) count every weight\n"
    )
    print(
        format_table(
            mlp_rows,
            [
                "data",
                "model",
                "hidden sparsity",
                "nonzero weights",
                "overall sparsity",
                "compression",
                "pickle KB",
                "test accuracy",
                "fit s",
            ],
        )
    )
    print(f"\nPlots written to {output.resolve()}:")
    for path in plots:
        print(f"  {path.name}")
    return 0
