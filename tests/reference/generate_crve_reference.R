#!/usr/bin/env Rscript
# Reference values for analysis/inference/crve.py from R clubSandwich / sandwich.
#
# Run from the repository root (needs R with clubSandwich, sandwich, plm, jsonlite;
# on Debian: apt-get install -y r-base-core r-cran-clubsandwich r-cran-sandwich r-cran-plm r-cran-jsonlite):
#
#   Rscript tests/reference/generate_crve_reference.R
#
# Writes tests/reference/crve_data.csv (a small seeded dataset: 15 clusters of
# unequal size, a factor `period` not nested in the clusters) and
# tests/reference/crve_clubsandwich.json. The models are fitted on the data
# *read back* from the CSV, so that Python and R see identical numbers.
# CI never runs this script; tests/test_crve.py only reads the JSON.
suppressPackageStartupMessages({
  library(clubSandwich)
  library(sandwich)
  library(jsonlite)
  library(plm)
})

out_dir <- file.path("tests", "reference")
csv <- file.path(out_dir, "crve_data.csv")

set.seed(20240611)
G <- 15
sizes <- sample(2:12, G, replace = TRUE)
cl <- rep(seq_len(G), times = sizes)
n <- length(cl)
period <- (sequence(sizes) - 1) %% 4 + 1
a <- rnorm(G)[cl]
x1 <- rnorm(n) + 0.5 * a
x2 <- rnorm(n) * (1 + 0.5 * (cl %% 3)) + 0.3 * period
y <- 1 + 0.5 * x1 - 0.25 * x2 + a + 0.2 * period + rnorm(n) * (1 + 0.3 * abs(x1))
dat <- data.frame(cl = cl, period = period, x1 = x1, x2 = x2, y = y)
write.csv(dat, csv, row.names = FALSE)
dat <- read.csv(csv)

dat$obs <- sequence(table(dat$cl)[as.character(unique(dat$cl))])
pdat <- pdata.frame(dat, index = c("cl", "obs"))

# lm: fixed effects as dummies. plm "within": the cluster effects absorbed
# (clubSandwich then follows Pustejovsky-Tipton 2018 for absorbed effects).
models <- list(
  pooled = list(formula = y ~ x1 + x2, fe = character(0), engine = "lm"),
  cluster_fe = list(formula = y ~ x1 + x2 + factor(cl), fe = "cl", engine = "lm"),
  twoway_fe = list(formula = y ~ x1 + x2 + factor(cl) + factor(period), fe = c("cl", "period"), engine = "lm"),
  cluster_fe_plm = list(formula = y ~ x1 + x2, fe = "cl", engine = "plm"),
  twoway_fe_plm = list(formula = y ~ x1 + x2 + factor(period), fe = c("cl", "period"), engine = "plm")
)
terms <- c("x1", "x2")

block <- function(V) {
  M <- as.matrix(V)[terms, terms]
  unname(lapply(seq_len(nrow(M)), function(i) unname(M[i, ])))
}

res <- list()
for (nm in names(models)) {
  m <- models[[nm]]
  fit <- if (m$engine == "lm") lm(m$formula, data = dat) else
    plm(m$formula, data = pdat, model = "within", effect = "individual")
  cl_vec <- if (m$engine == "lm") dat$cl else pdat$cl
  entry <- list(
    engine = if (m$engine == "lm") "lm" else "plm(model = 'within', effect = 'individual', index = c('cl', 'obs'))",
    formula = deparse(m$formula),
    fixed_effects = m$fe,
    n = nrow(dat),
    n_clusters = length(unique(dat$cl)),
    n_coef_lm = length(coef(fit)),
    coef = unname(coef(fit)[terms])
  )
  for (tp in c("CR0", "CR1", "CR1S", "CR2", "CR3")) {
    # CR3 with cluster dummies in lm: I - H_gg is singular and clubSandwich stops
    V <- tryCatch(vcovCR(fit, cluster = cl_vec, type = tp), error = function(e) NULL)
    if (!is.null(V)) entry[[paste0("vcov_", tp)]] <- block(V)
  }
  if (m$engine == "lm") {
    entry$vcov_sandwich_vcovCL_HC1 <- block(sandwich::vcovCL(fit, cluster = ~cl, type = "HC1"))
  }
  for (tp in c("CR1", "CR2", "CR3")) {
    ct <- tryCatch(coef_test(fit, vcov = tp, cluster = cl_vec, test = "Satterthwaite", coefs = terms),
                   error = function(e) NULL)
    if (is.null(ct)) next
    entry[[paste0("coef_test_", tp)]] <- list(
      beta = unname(ct$beta), se = unname(ct$SE), tstat = unname(ct$tstat),
      df = unname(ct$df_Satt), p = unname(ct$p_Satt)
    )
  }
  wt <- Wald_test(fit, constraints = constrain_zero(terms), vcov = "CR2",
                  cluster = cl_vec, test = "HTZ")
  entry$wald_HTZ_CR2 <- list(Fstat = unname(wt$Fstat), df_num = unname(wt$df_num),
                             df_denom = unname(wt$df_denom), p = unname(wt$p_val))
  res[[nm]] <- entry
}

meta <- list(
  generated_by = "tests/reference/generate_crve_reference.R",
  command = "Rscript tests/reference/generate_crve_reference.R",
  r_version = R.version.string,
  clubSandwich = as.character(packageVersion("clubSandwich")),
  plm = as.character(packageVersion("plm")),
  sandwich = as.character(packageVersion("sandwich")),
  jsonlite = as.character(packageVersion("jsonlite")),
  seed = 20240611,
  data = "tests/reference/crve_data.csv",
  terms = terms,
  notes = paste(
    "vcov_* are the 2x2 blocks of (x1, x2). clubSandwich types: CR1 = G/(G-1),",
    "CR1S = G(N-1)/((G-1)(N-p)) with p counting every lm coefficient (incl. dummies),",
    "CR2 = Bell-McCaffrey, CR3 = (I-H_gg)^{-1}. coef_test: Satterthwaite df.",
    "Wald_test: HTZ test of x1 = x2 = 0 with CR2.",
    "Entries missing for a model failed in clubSandwich (CR3 with cluster dummies:",
    "I - H_gg singular); the plm models give them with the cluster effects absorbed."
  )
)
writeLines(toJSON(list(meta = meta, models = res), auto_unbox = TRUE, digits = NA, pretty = TRUE),
           file.path(out_dir, "crve_clubsandwich.json"))
cat("wrote", file.path(out_dir, "crve_clubsandwich.json"), "\n")
