#include "caravan/client/text.hpp"
#include "common.hpp"
#include "readable.hpp"
#include "caravan/client/iso_time.hpp"

#include "caravan/client/hlc.hpp"

namespace caravan::cli {
namespace {

void print_saved(Context& ctx, const client::Consultation& c) {
    if (ctx.json) {
        print_json(ctx, client::to_json(c));
    } else {
        ctx.out << phrase(ctx, msg::word_saved) << " " << client::short_id(c.id) << " (" << c.id
                << ")\n";
    }
}

void setup_add(CLI::App* group, Registry& registry) {
    auto in = std::make_shared<client::ConsultationInput>();
    auto* add = group->add_subcommand("add", "Record a consultation at the current visit");
    add->add_option("--gender", in->person.gender, "female, male or unrecorded")->required();
    add->add_option("--age", in->person.age, "Age band, e.g. 33-45, 59+, unrecorded")->required();
    add->add_option("--category", in->person.category, "Social category, e.g. unemployed")
        ->required();
    add_vulnerable_flags(add, in->person.vulnerable, "Socially vulnerable");
    add->add_option("--topic", in->topics, "Topic (repeat for several), e.g. land")->required();
    add->add_option("--outcome", in->outcome, "advice, referred, document or case")->required();
    add->add_option("--question", in->question, "Short summary of the question");
    add->add_option("--advice", in->advice, "Short summary of the advice");
    add->add_flag("--follow-up", in->follow_up, "Follow-up is needed");
    add->add_option("--lang", in->lang, "Language of the consultation: kk or ru");
    add->add_option("--lawyer", in->lawyer, "Lawyer (default: this device's lawyer)");
    add->add_option("--visit", in->visit, "Visit (default: the current visit)");
    add->callback([&registry, in] {
        registry.set([in](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(c, engine.add_consultation(*in));
            print_saved(ctx, c);
            return {};
        });
    });
}

void setup_edit(CLI::App* group, Registry& registry) {
    struct Options {
        std::string id;
        client::ConsultationPatch patch;
        std::vector<std::string> topics;
    };
    auto o = std::make_shared<Options>();
    auto* edit = group->add_subcommand("edit", "Change fields of a consultation");
    edit->add_option("id", o->id, "Consultation id or id fragment")->required();
    edit->add_option("--gender", o->patch.gender, "female, male or unrecorded");
    edit->add_option("--age", o->patch.age, "Age band");
    edit->add_option("--category", o->patch.category, "Social category");
    auto* yes = edit->add_flag_callback(
        "--vulnerable", [o] { o->patch.vulnerable = true; }, "Mark vulnerable");
    auto* no = edit->add_flag_callback(
        "--not-vulnerable", [o] { o->patch.vulnerable = false; }, "Mark not vulnerable");
    auto* clear = edit->add_flag_callback(
        "--vulnerable-unrecorded", [o] { o->patch.vulnerable.emplace(); },
        "Vulnerable group not recorded (clears the mark)");
    yes->excludes(no)->excludes(clear);
    no->excludes(clear);
    edit->add_option("--topic", o->topics, "Topics (replace the list; repeat for several)");
    edit->add_option("--outcome", o->patch.outcome, "advice, referred, document or case");
    edit->add_option("--question", o->patch.question, "Summary of the question");
    edit->add_option("--advice", o->patch.advice, "Summary of the advice");
    edit->add_flag_callback(
        "--follow-up", [o] { o->patch.follow_up = true; }, "Needs follow-up");
    edit->add_flag_callback(
        "--no-follow-up", [o] { o->patch.follow_up = false; }, "No follow-up needed");
    edit->add_option("--lang", o->patch.lang, "kk or ru");
    edit->callback([&registry, o] {
        registry.set([o](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            client::ConsultationPatch patch = o->patch;
            if (!o->topics.empty()) {
                patch.topics = o->topics;
            }
            CARAVAN_TRY(before, engine.find_consultation(o->id));
            CARAVAN_TRY(c, engine.edit_consultation(o->id, patch));
            // An edit whose values are already the record's writes no event: say so rather
            // than "saved".
            const bool changed = client::to_json(before) != client::to_json(c);
            if (ctx.json) {
                nlohmann::json out = client::to_json(c);
                out["changed"] = changed;
                print_json(ctx, out);
            } else if (!changed) {
                ctx.out << phrase(ctx, msg::word_unchanged) << " " << client::short_id(c.id)
                        << "\n";
            } else {
                print_saved(ctx, c);
            }
            return {};
        });
    });
}

void setup_rm(CLI::App* group, Registry& registry) {
    auto id = std::make_shared<std::string>();
    auto* rm = group->add_subcommand("rm", "Delete a consultation (its history is kept)");
    rm->add_option("id", *id, "Consultation id or id fragment")->required();
    rm->callback([&registry, id] {
        registry.set([id](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(c, engine.remove_consultation(*id));
            if (ctx.json) {
                print_json(ctx, {{"id", c.id}, {"deleted", true}});
            } else {
                ctx.out << phrase(ctx, msg::word_deleted) << " " << client::short_id(c.id) << "\n";
            }
            return {};
        });
    });
}

void setup_undelete(CLI::App* group, Registry& registry) {
    auto id = std::make_shared<std::string>();
    auto* undelete = group->add_subcommand(
        "undelete", "Bring back a deleted consultation (a new change that every device syncs)");
    undelete->add_option("id", *id, "Id or id fragment of the deleted consultation")->required();
    undelete->callback([&registry, id] {
        registry.set([id](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(c, engine.undelete_consultation(*id));
            if (ctx.json) {
                auto doc = client::to_json(c);
                doc["deleted"] = false;
                print_json(ctx, doc);
            } else {
                ctx.out << phrase(ctx, msg::word_restored) << " " << client::short_id(c.id) << "\n";
            }
            return {};
        });
    });
}

void setup_list(CLI::App* group, Registry& registry) {
    auto f = std::make_shared<client::ConsultationFilter>();
    auto* list = group->add_subcommand("list", "List consultations");
    list->add_option("--visit", f->visit, "Only this visit");
    list->add_option("--region", f->region, "Only this region");
    list->add_option("--from", f->from, "From date YYYY-MM-DD (inclusive)");
    list->add_option("--to", f->to, "To date YYYY-MM-DD (inclusive)");
    list->callback([&registry, f] {
        registry.set([f](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            // The table is streamed: rows are printed as they are read, never collected. The
            // --json array is built first and printed whole, so that a listing that fails
            // part-way prints only the error document: stdout is always exactly one document.
            bool first = true;
            std::optional<StreamTable> table;
            std::string array;
            if (ctx.json) {
                array = "[";
            } else {
                size_t village_width = 0;
                CARAVAN_TRY(villages, engine.list_villages());
                for (const auto& v : villages) {
                    village_width = std::max(village_width, client::utf8_length(shown(v.name)));
                }
                // Topics last: the one column whose width has no bound.
                table.emplace(ctx.out,
                              std::vector<std::string>{std::string("id"),
                                                       std::string(phrase(ctx, msg::word_date)),
                                                       std::string(phrase(ctx, msg::word_village)),
                                                       std::string(phrase(ctx, msg::word_gender)),
                                                       std::string(phrase(ctx, msg::word_age)),
                                                       std::string(phrase(ctx, msg::word_category)),
                                                       std::string(phrase(ctx, msg::word_outcome)),
                                                       std::string(phrase(ctx, msg::word_topics))},
                              std::vector<size_t>{8, 10, village_width,
                                                  widest_label(ctx, client::enums::gender),
                                                  widest_label(ctx, client::enums::age),
                                                  widest_label(ctx, client::enums::category),
                                                  widest_label(ctx, client::enums::outcome), 0});
            }
            auto ok = engine.list_consultations(*f, [&](const client::Consultation& c) {
                if (ctx.json) {
                    array += first ? "\n" : ",\n";
                    array += client::to_json(c).dump();
                } else {
                    table->row({client::short_id(c.id), shown(c.date), shown(c.village),
                                label(ctx, client::enums::gender, c.person.gender),
                                label(ctx, client::enums::age, c.person.age),
                                label(ctx, client::enums::category, c.person.category),
                                label(ctx, client::enums::outcome, c.outcome),
                                labels(ctx, client::enums::topic, c.topics)});
                }
                first = false;
                return static_cast<bool>(ctx.out);
            });
            if (!ok) {
                return ok;
            }
            if (table) {
                table->finish();
            }
            if (ctx.json) {
                ctx.out << array << (first ? "]\n" : "\n]\n");
            }
            return {};
        });
    });
}

void setup_show(CLI::App* group, Registry& registry) {
    auto id = std::make_shared<std::string>();
    auto* show = group->add_subcommand("show", "Show one consultation");
    show->add_option("id", *id, "Consultation id or id fragment")->required();
    show->callback([&registry, id] {
        registry.set([id](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(c, engine.find_consultation(*id));
            if (ctx.json) {
                print_json(ctx, client::to_json(c));
            } else {
                print_consultation(ctx, c);
            }
            return {};
        });
    });
}

void setup_history(CLI::App* group, Registry& registry) {
    auto id = std::make_shared<std::string>();
    auto* history =
        group->add_subcommand("history", "Every change of a consultation: by whom, when");
    history->add_option("id", *id, "Consultation id or id fragment")->required();
    history->callback([&registry, id] {
        registry.set([id](Context& ctx) -> Result<void> {
            CARAVAN_TRY_ENGINE(engine, ctx);
            CARAVAN_TRY(entries, engine.consultation_history(*id));
            if (ctx.json) {
                print_json_array(ctx, entries);
                return {};
            }
            for (const auto& h : entries) {
                const auto fields = nlohmann::json::parse(h.fields_json, nullptr, false);
                const bool restores = h.op == "update" && fields.is_object() &&
                                      fields.contains("deleted") && fields["deleted"] == false;
                const Message& what = h.op == "create"   ? msg::word_created
                                      : h.op == "delete" ? msg::word_deleted
                                      : restores         ? msg::word_restored
                                                         : msg::word_updated;
                ctx.out << client::local_minute(h.time) << "  "
                        << (h.lawyer.empty() ? who(ctx, {}, h.device_id) : shown(h.lawyer))
                        << "  " << phrase(ctx, what) << "\n";
                if (!fields.is_object() || h.op == "delete") {
                    continue;
                }
                for (auto it = fields.begin(); it != fields.end(); ++it) {
                    if (it.key() == "deleted") {
                        continue; // said by the line above
                    }
                    const bool superseded = std::find(h.superseded.begin(), h.superseded.end(),
                                                      it.key()) != h.superseded.end();
                    ctx.out << "    " << field_word(ctx, it.key()) << ": "
                            << value_text(ctx, it.key(), it.value());
                    if (superseded) {
                        ctx.out << "  " << phrase(ctx, msg::word_superseded);
                    }
                    ctx.out << "\n";
                }
            }
            return {};
        });
    });
}

const bool registered = register_command("consult", [](CLI::App& app, Registry& registry) {
    auto* group = app.add_subcommand("consult", "Individual consultations");
    group->require_subcommand(1);
    setup_add(group, registry);
    setup_edit(group, registry);
    setup_rm(group, registry);
    setup_undelete(group, registry);
    setup_list(group, registry);
    setup_show(group, registry);
    setup_history(group, registry);
});

} // namespace
} // namespace caravan::cli
